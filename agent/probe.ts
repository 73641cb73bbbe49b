/**
 * Probe state machines with Kubernetes' semantics (kubelet's prober worker), pure: the caller runs
 * the probes when `dueProbes` says so and feeds the outcomes back with `recordProbe`.
 *
 *   container start ─► startup probe every period until successThreshold successes
 *        (failureThreshold failures in a row ─► kill)
 *   startup passed (or none) ─► liveness and readiness, each after its initialDelay, every period
 *        liveness: failureThreshold failures in a row ─► kill (the restart policy decides what next)
 *        readiness: ready after successThreshold successes, unready after failureThreshold failures
 *
 * Initial results follow kubelet: liveness starts as success, readiness as failure (not ready),
 * startup as unknown. A probe that times out counts as a failure.
 */
import type { ResolvedProbe } from '../api/index.ts';

/** ProbeKind names the three probes of a container. */
export type ProbeKind = 'startup' | 'liveness' | 'readiness';

/** ProbeResult is a probe's current verdict. */
export type ProbeResult = 'unknown' | 'success' | 'failure';

/** ProbeTracker is one probe's state: its verdict, the current run of equal outcomes and when it is next due. */
export interface ProbeTracker {
  kind: ProbeKind;
  probe: ResolvedProbe;
  result: ProbeResult;
  /** outcome of the last probe and how many in a row had that outcome */
  lastOutcome?: 'success' | 'failure';
  run: number;
  /** epoch ms when the probe is next due */
  nextAt: number;
}

/** Health is the probe state of one running container. */
export interface Health {
  startup?: ProbeTracker;
  liveness?: ProbeTracker;
  readiness?: ProbeTracker;
  /** set once the startup probe passed (or immediately when there is none) */
  started: boolean;
}

/** HealthVerdict is what recording an outcome means for the container. */
export interface HealthVerdict {
  health: Health;
  /** kill the container: a liveness or startup probe crossed its failure threshold */
  kill?: { kind: 'liveness' | 'startup'; message: string };
}

function newTracker(kind: ProbeKind, probe: ResolvedProbe, startedAtMs: number): ProbeTracker {
  return {
    kind,
    probe,
    result: kind === 'liveness' ? 'success' : kind === 'readiness' ? 'failure' : 'unknown',
    run: 0,
    nextAt: startedAtMs + probe.initialDelaySeconds * 1000,
  };
}

/** newHealth sets up the probes of a container that started at `startedAtMs`. */
export function newHealth(probes: { startup?: ResolvedProbe; liveness?: ResolvedProbe; readiness?: ResolvedProbe }, startedAtMs: number): Health {
  return {
    ...(probes.startup ? { startup: newTracker('startup', probes.startup, startedAtMs) } : {}),
    ...(probes.liveness ? { liveness: newTracker('liveness', probes.liveness, startedAtMs) } : {}),
    ...(probes.readiness ? { readiness: newTracker('readiness', probes.readiness, startedAtMs) } : {}),
    started: !probes.startup,
  };
}

/** dueProbes lists the probes to run now: only startup until it passed, then liveness and readiness. */
export function dueProbes(h: Health, now: number): ProbeKind[] {
  if (!h.started) return h.startup && h.startup.nextAt <= now ? ['startup'] : [];
  const out: ProbeKind[] = [];
  if (h.liveness && h.liveness.nextAt <= now) out.push('liveness');
  if (h.readiness && h.readiness.nextAt <= now) out.push('readiness');
  return out;
}

/** nextProbeAt is when the next probe falls due (for the caller's timer), or undefined with none. */
export function nextProbeAt(h: Health): number | undefined {
  const ts = h.started ? [h.liveness?.nextAt, h.readiness?.nextAt] : [h.startup?.nextAt];
  const defined = ts.filter((t): t is number => t !== undefined);
  return defined.length ? Math.min(...defined) : undefined;
}

/** isReady: started, and the readiness probe (if any) says success. Without probes a running container is ready. */
export function isReady(h: Health): boolean {
  if (!h.started) return false;
  return h.readiness ? h.readiness.result === 'success' : true;
}

/**
 * recordProbe feeds one outcome of probe `kind` observed at `now` (a timeout is `false`) and
 * returns the new health and whether the container must be killed. Outcomes for a probe that is not
 * active (e.g. liveness before startup passed) are ignored.
 */
export function recordProbe(h: Health, kind: ProbeKind, ok: boolean, now: number): HealthVerdict {
  const t = h[kind];
  if (!t || (kind !== 'startup' && !h.started) || (kind === 'startup' && h.started)) return { health: h };
  const outcome = ok ? 'success' : 'failure';
  const run = t.lastOutcome === outcome ? t.run + 1 : 1;
  const threshold = ok ? t.probe.successThreshold : t.probe.failureThreshold;
  const next: ProbeTracker = {
    ...t,
    lastOutcome: outcome,
    run,
    result: run >= threshold ? outcome : t.result,
    nextAt: now + t.probe.periodSeconds * 1000,
  };
  const health: Health = { ...h, [kind]: next };
  if (kind === 'startup' && next.result === 'success') {
    // Startup passed: liveness and readiness begin, each after its own initial delay (counted from
    // container start, which has already elapsed for the part spent in startup).
    health.started = true;
  }
  if ((kind === 'liveness' || kind === 'startup') && next.result === 'failure') {
    return {
      health,
      kill: { kind, message: `${kind} probe failed ${run} times in a row` },
    };
  }
  return { health };
}
