// store/: gitcell's cluster state on NATS JetStream. Components talk to each other only through
// these buckets, watches, events and leases. See README.md for the key layout and who writes what.
export { StoreErrorCodes, type StoreErrorCode } from './errors.ts';
export { jsonCodec, keyOf, keyFilter, validateKey, decodeRecord, encodeRecord, type RecordCodec, type InvalidRecord, type Envelope } from './record.ts';
export { nkeySigner, nkeyAuth, newUserSeed, type NkeySigner } from './nkey.ts';
export { connect, closeConnection, connectionInbox, splitServers, type ConnectOptions } from './connect.ts';
export { suggestReplicas, replicasFor, parseReplicas, placementOf, spreadTag, MAX_REPLICAS } from './replicas.ts';
export { Bucket, ensureBucket, SKIP, type RoBucket, type KvBucket, type BucketConfig, type BucketOptions, type StoreRecord, type UpdateFn, type UpdateOptions } from './bucket.ts';
export type { Watch, WatchEvent, WatchOptions, WatchReset } from './watch.ts';
export { EventStream, type EventStreamConfig, type StoredEvent } from './events.ts';
export {
  openClusterStore,
  appendEvent,
  recordEvent,
  type RecordEventOptions,
  BUCKETS,
  DEFAULT_PREFIX,
  bucketName,
  bucketConfig,
  desiredKey,
  eventTokens,
  eventsSubjectRoot,
  verifyClusterEvent,
  objectCodec,
  roleCodec,
  type BucketLayout,
  type BucketRole,
  type ClusterStore,
  type ClusterStoreOptions,
} from './cluster.ts';
export { type Lease } from './lease.ts';
export { runForLeadership, checkFence, defaultIdentity, type Election, type ElectionOptions, type LeaderContext } from './leader.ts';
export { startEmbedded, findEmbeddedUrl, DEFAULT_STATE_DIR, SLOW_CLIENT_CONFIG, type EmbeddedOptions, type EmbeddedServer } from './embedded.ts';
export {
  startOrConnect,
  connectFromOptions,
  stateDirCredentials,
  writeExternalCluster,
  readExternalCluster,
  removeExternalCluster,
  EXTERNAL_CLUSTER_FILE,
  type ExternalCluster,
  CONTROL_SEED_FILE,
  VIEWER_SEED_FILE,
  AUTOSCALER_SEED_FILE,
  EMBEDDED_TLS_DIR,
  EMBEDDED_CA_FILE,
  type ClusterOptions,
  type StartedCluster,
} from './find-cluster.ts';
export {
  agentPermissions,
  hollowPermissions,
  controlPermissions,
  autoscalerPermissions,
  viewerPermissions,
  authorizationConfig,
  inboxPrefixFor,
  nodeSecretsBucket,
  logRequestSubject,
  logStreamSubject,
  logAliveSubject,
  logReplySubject,
  CONTROL_WRITER,
  AUTOSCALER_WRITER,
  AUTOSCALER_SOURCE,
  type NatsPermissions,
  type NatsUser,
} from './permissions.ts';
export { openAgentStore, type AgentStore } from './agent-store.ts';
export { openAutoscalerStore, type AutoscalerStoreHandles, type AutoscalerStoreOptions } from './autoscaler-store.ts';
export { LivenessInformer, LIVENESS_KEY, fixedLiveness, readLiveness, type LivenessView } from './liveness.ts';
export { LEASE_BATCH_MS, NodeInformer, listNodesWithLeases, type NodeSources, type NodeInformerOptions } from './node-informer.ts';
export { Informer, valueView, defaultInformerBackoff, type InformerView, type InformerEntry, type InformerOptions, type InformerChange, type InformerSource } from './informer.ts';
export { probeIncarnation, waitForStore, watchIncarnation, STORE_RESET_EXIT_CODE, type IncarnationProbe, type WaitForStoreOptions, type IncarnationWatchOptions } from './incarnation.ts';
export { ensureNatsTls, natsTlsFiles, clientTlsConfig, clusterConfig, OPENSSL, type NatsTls, type RouteOptions } from './tls.ts';
export { ViewClock, type ViewClockSource } from './view-clock.ts';
export { sameJson, SharedParts, taskEncoder } from './shared-parts.ts';
