// store/: gitcell's cluster state on NATS JetStream. Components talk to each other only through
// these buckets, watches and leases. See README.md for the key layout and who writes what.
export { StoreErrorCodes, type StoreErrorCode } from './errors.ts';
export { jsonCodec, keyOf, keyFilter, validateKey, decodeRecord, encodeRecord, type RecordCodec, type InvalidRecord, type Envelope } from './record.ts';
export { connect, splitServers, type ConnectOptions } from './connect.ts';
export { Bucket, ensureBucket, SKIP, type BucketConfig, type BucketOptions, type StoreRecord, type UpdateFn, type UpdateOptions } from './bucket.ts';
export type { Watch, WatchEvent, WatchOptions } from './watch.ts';
