// runtime/: images, snapshots, overlayfs and runc containers. Knows nothing of the control plane.
// This is the runtime's public face, curated (nats.js' mod.ts is the model): what the agent, the
// CLI and tests outside runtime/ use. Each subfolder's index.ts exports more, for runtime/'s own
// code and tests; add a name here only when something outside runtime/ needs it.

// Containers: create, start, stop, remove, logs and commit (runtime/container).
export {
  ContainerManager,
  commitContainer,
  validateCgroupParent,
  removeCgroupParent,
  limitCgroupParent,
  runcForInit,
  logFiles,
  logFollowers,
  readLogFile,
  parseLogLine,
  LogFollower,
  type ContainerOptions,
  type ContainerInfo,
  type ContainerRecord,
  type ContainerStatus,
  type ExitStatus,
  type LogLine,
} from './container/index.ts';

// Images: the local store, references, root filesystem import, OCI layouts (runtime/image).
export {
  ImageStore,
  parseReference,
  LOCAL_DOMAIN,
  importRootfs,
  buildBusyboxRootfs,
  exportOciLayout,
  importOciLayout,
  isOciLayout,
  splitLayoutArg,
  type ResolvedImage,
} from './image/index.ts';

// Registries: pull and push over the OCI distribution API (runtime/registry).
export { pullImage, pushImage, NO_PROGRESS, type Progress, type Credentials } from './registry/index.ts';
// Pull policy, mirrors and docker config.json credentials (what a node needs to get a task's image).
export {
  ensureImage, defaultPullPolicy, parseDockerConfig, mergeAuths, parseEndpoint,
  type PullPolicy, type RegistryAuths, type RegistryMirrors, type EnsureResult,
} from './registry/index.ts';

// Task networking: a netns and an IP per sandbox through CNI (runtime/network).
export { NetworkManager, parseIpv4Cidr, runCommand, type Attachment } from './network/index.ts';

// Garbage collection of blobs and snapshots.
export { collectGarbage, type RuntimeGcResult, type RuntimeGcOptions } from './gc.ts';

// Inspection, for leak checks (tests and `gitcell` cleanup): what mounts, cgroups and network
// namespaces exist on the machine, and a command inside a namespace.
export { readMounts, isMounted, listCgroups, cgroupDirs, removeCgroup } from './container/index.ts';
export { stateRootOf, runcRootOf } from './container/index.ts';
export { listNetns, netnsPath, execInNetns } from './network/index.ts';

// Services on a node: nftables load balancing and the node's DNS (runtime/services).
export {
  NftApplier,
  listNftTables,
  Dnsmasq,
  renderHosts,
  serviceDnsName,
  CLUSTER_DOMAIN,
  type LbConfig,
  type LbService,
  type DnsEntry,
  type DnsmasqOptions,
  type NftApplierOptions,
} from './services/index.ts';
