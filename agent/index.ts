// agent/: the node agent. It talks to the rest of gitcell only through store/.
export { newHealth, dueProbes, recordProbe, isReady, nextProbeAt, type Health, type ProbeKind, type ProbeTracker, type HealthVerdict } from './probe.ts';
export { defaultBackoffOptions, shouldRestart, nextBackoff, decideExit, startFailureBackoff, type BackoffOptions, type ExitOutcome } from './backoff.ts';
export { converge, type Action, type ConvergeInput, type DesiredTask, type ObservedContainer, type TaskRecord, type StopReason } from './converge.ts';
export { Agent, AGENT_VERSION, usesSecrets, type AgentOptions, type AgentDeps, type NodeSecrets } from './agent.ts';
export { Journal, type LocalTask, type LocalPhase } from './journal.ts';
export { buildStatus, stateOf } from './status.ts';
export { AgentMetrics, startHttp } from './metrics.ts';
export { runProbe, httpGet, tcpConnect, type ProbeTarget, type ProbeOutcome } from './probe-exec.ts';
export { readCgroup, cpuMillisBetween, removeCgroup, cgroupDirs, type CgroupSample } from './cgroup.ts';
export { serveLogs, streamLogs, archivedTasks, findTaskNode, logSubject, type LogRequest, type LogSource, type LogSources } from './logs.ts';
export { LogArchive, DEFAULT_LOG_RETENTION, type ArchivedLog, type LogRetention } from './log-archive.ts';
export { machineCapacity, parseLabels, parseCapacity, runcVersion, kernelVersion, hostAddresses } from './machine.ts';
export { ANNOTATION_TASK, ANNOTATION_HASH, containerName, type TaskRuntime, type TaskNetwork, type ContainerView, type ExitInfo, type RunRequest } from './port.ts';
export { RuntimeAdapter, type RuntimeAdapterOptions } from './runtime-adapter.ts';
export { SecretVolumes, numericOwner, type SecretSource, type PreparedSecrets } from './secret-volumes.ts';
export { heldAfterRebuild, releaseHeld, keepCompleted, COMPLETED_RETENTION_MS, DEFAULT_RECOVERY_HOLD_MS, type Release } from './recovery.ts';
export { MemoryRuntime, MemoryNetwork, type MemoryBehaviour, type MemoryRuntimeOptions, type MemoryNetworkOptions } from './memory-runtime.ts';
export { SharedFeed, type SharedFeedSources, type FeedAttachment } from './shared-feed.ts';
