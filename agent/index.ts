// agent/: the node agent. It talks to the rest of gitcell only through store/.
export { newHealth, dueProbes, recordProbe, isReady, nextProbeAt, type Health, type ProbeKind, type ProbeTracker, type HealthVerdict } from './probe.ts';
export { defaultBackoffOptions, shouldRestart, nextBackoff, decideExit, type BackoffOptions, type ExitOutcome } from './backoff.ts';
export { converge, type Action, type ConvergeInput, type DesiredTask, type ObservedContainer, type TaskRecord, type StopReason } from './converge.ts';
