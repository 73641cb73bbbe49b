// The SLO kind: a service level objective of one Job, kept in Git next to it. A kind of its own
// rather than a `slo:` block on the Job: changing an objective must not change the Job (its
// generation, hence a rollout the commit status waits for), a Job may have several objectives
// (availability and latency), and an SLO can live in a team's monitoring folder.
import type { API_VERSION, Manifest } from './manifests.ts';

/** SloRatio: the share of bad events, from two task counters (metric names with optional label matchers). */
export interface SloRatio {
  /** the bad events, e.g. http_requests_total{code=~"5.."} */
  errors: string;
  /** all events, e.g. http_requests_total */
  total: string;
}

/** SloLatency: the share of requests slower than `threshold`, from a task histogram. */
export interface SloLatency {
  /** the histogram's name without _bucket, e.g. http_request_duration_seconds */
  histogram: string;
  /** seconds; one of the histogram's bucket bounds (its `le`) */
  threshold: number;
}

/** SloIndicator: exactly one of readiness (the tasks' ready time), ratio or latency. */
export interface SloIndicator {
  /** the share of task-time the Job's tasks were ready (gitcell_task_ready from the agents) */
  readiness?: Record<string, never>;
  ratio?: SloRatio;
  latency?: SloLatency;
}

/** SloSpec: which Job, what must hold (objective, percent of good events) over which window. */
export interface SloSpec {
  /** a Job in the SLO's namespace */
  job: string;
  /** percent of good events, e.g. 99.9 */
  objective: number;
  /** the compliance period, e.g. 30d (default); the burn-rate windows scale with it */
  window?: string;
  indicator: SloIndicator;
  /** extra labels on the alerts (routing in Alertmanager), e.g. team: payments */
  labels?: Record<string, string>;
}

/** SLO is a Manifest of kind SLO. */
export type SLO = Manifest<'SLO', SloSpec> & { apiVersion: typeof API_VERSION };

/** DEFAULT_SLO_WINDOW is the compliance period of an SLO without `window`. */
export const DEFAULT_SLO_WINDOW = '30d';

/** parseSloWindow reads a Prometheus-style duration (s, m, h, d, w) into seconds; undefined when malformed. */
export function parseSloWindow(s: string): number | undefined {
  const m = /^(\d+)(s|m|h|d|w)$/.exec(s);
  if (!m) return undefined;
  const unit = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[m[2] as 's' | 'm' | 'h' | 'd' | 'w'];
  return Number(m[1]) * unit;
}
