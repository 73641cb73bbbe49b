// runtime/network/: a network namespace and an IP per sandbox through the standard CNI plugins.
export { NetworkManager, type NetworkManagerOptions, type Attachment } from './manager.ts';
export {
  invokePlugin, addNetworkList, delNetworkList, checkNetworkList, parseCniResult, parseCniError, ipv4Of, pluginConf,
  type CniCommand, type CniNetworkList, type CniPluginConf, type CniResult, type CniIp, type CniInvocation,
} from './cni.ts';
export { bridgeNetworkList, parseIpv4Cidr, formatIpv4, ipv4InSubnet, validateBridgeName, type BridgeNetworkOptions } from './config.ts';
export { createNetns, deleteNetns, listNetns, netnsExists, netnsPath, execInNetns, NETNS_DIR } from './netns.ts';
export { runCommand, type ExecResult } from './exec.ts';
export { planRoutes, RouteProgrammer, ROUTE_PROTO, type PeerNode, type LocalLink, type RoutePlan, type PlannedRoute, type OverlayPeer } from './routes.ts';
export { VxlanDevice, vtepOf, VXLAN_PORT, type VxlanOptions } from './vxlan.ts';
