// runtime/services/: a node's share of Services: nftables load balancing and DNS. Knows nothing of
// the store: callers hand it VIPs, ports and endpoints.
export { buildModel, renderFull, renderDelta, renderCleanup, validTableName, type LbConfig, type LbService, type LbPort, type LbEndpoint, type NftModel, type NftChain } from './nft.ts';
export { NftApplier, nftBinary, listNftTables, type NftApplierOptions, type ApplyResult } from './nft-apply.ts';
export { NftSession, type SessionResult } from './nft-session.ts';
export { Dnsmasq, dnsmasqBinary, renderHosts, serviceDnsName, CLUSTER_DOMAIN, type DnsEntry, type DnsmasqOptions } from './dnsmasq.ts';
