// lib/: the few utilities every part of gitcell shares (errors, logging, processes, files, hashing streams). No domain logic here.
export {
  GitcellError,
  isGitcellError,
  errorMessage,
  UsageError,
  StoreError,
  ManifestError,
  GitError,
  SchedulerError,
  ImageError,
  RuntimeError,
  NetworkError,
  SecretsError,
  AgentError,
  ReconcileError,
  type FamilyError,
  type FamilyErrorClass,
} from './errors.ts';
export * from './error-codes.ts';
export { createLogger, silentLogger, type Logger } from './log.ts';
export { findExecutable, pathDirs, readdirIfExists, readdirSyncOrEmpty, readFileNoFollow } from './fs.ts';
export { HashCounter } from './hash-counter.ts';
export { Backoff, backoffDelay, nextBackoffDelay, sleep, type BackoffOptions } from './backoff.ts';
export { writeFileAtomic, writeFileAtomicSync, tempPathFor, type AtomicWriteOptions } from './atomic-write.ts';
export { compareCodeUnits } from './compare.ts';
export { Limiter, mapLimit, withDeadline } from './concurrency.ts';
export { PassRunner, type LoopOptions, type PassRunnerOptions, type RunningLoop } from './pass-runner.ts';
export { parseIpv4, parseIpv4Cidr, formatIpv4, ipv4InSubnet } from './ipv4.ts';
export { serveMonitoring, parseHostPort, type HealthCheck, type JsonRoute, type MonitoringEndpoint } from './metrics-http.ts';
export { freePort } from './net.ts';
export { SpawnHelper, sharedSpawnHelper, shellQuote, type SpawnRequest, type SpawnResult } from './spawn-helper.ts';
