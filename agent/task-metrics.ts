/**
 * Per-task series on the agent's /metrics: CPU, memory, restarts and readiness of every task the
 * node runs, labelled namespace, job, task, node and template, so Prometheus has them for every task
 * (the SLOs' readiness ratio and the autoscaler's CPU utilization read them). They are computed when
 * scraped from the journal and the last cgroup sample (usage.ts), so a forgotten task leaves no
 * series behind and nothing is updated between scrapes. Names are documented in
 * reconciler/monitor/README.md and are stable.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { LocalTask } from './journal.ts';
import type { Live } from './context.ts';
import { isReady } from './probe.ts';

/** TASK_LABELS are the labels of every task series (`node` is the registry's default label). */
export const TASK_LABELS = ['namespace', 'job', 'task', 'template'] as const;

/** TaskSample is what one task contributes to the series at scrape time, pure. */
export interface TaskSample {
  labels: Record<(typeof TASK_LABELS)[number], string>;
  /** cumulative CPU time of the current container (seconds), when sampled */
  cpuSeconds?: number;
  cpuMillicores?: number;
  memoryBytes?: number;
  cpuRequestMillicores: number;
  memoryLimitBytes?: number;
  restarts: number;
  ready: boolean;
  running: boolean;
}

/** taskSample turns a journal entry and what is followed of its container into a sample, pure. */
export function taskSample(t: LocalTask, live: Live | undefined): TaskSample {
  const s = t.spec;
  const running = t.phase === 'running';
  return {
    labels: { namespace: s.namespace, job: s.owner.name, task: t.taskId, template: t.templateHash },
    ...(live?.sample ? { cpuSeconds: live.sample.s.cpuNanos / 1e9 } : {}),
    ...(live?.usage ? { cpuMillicores: live.usage.cpuMillis, memoryBytes: live.usage.memoryBytes } : {}),
    cpuRequestMillicores: s.template.resources.requests.cpuMillis,
    ...(s.template.resources.limits.memoryBytes ? { memoryLimitBytes: s.template.resources.limits.memoryBytes } : {}),
    restarts: t.restarts,
    ready: running && !!live?.health && isReady(live.health),
    running,
  };
}

/** TaskSource lists the node's tasks when scraped. */
export interface TaskSource {
  records: ReadonlyMap<string, LocalTask>;
  live: ReadonlyMap<string, Live>;
}

/** registerTaskSeries adds the per-task series to `registry`, read from `source` at each scrape. */
export function registerTaskSeries(registry: Registry, source: TaskSource): void {
  const labelNames = [...TASK_LABELS];
  const samples = (): TaskSample[] => [...source.records.values()].filter((t) => t.phase !== 'stopped').map((t) => taskSample(t, source.live.get(t.taskId)));
  // Each series is recomputed at scrape time: reset, then one value per task that has one.
  const each = (value: (s: TaskSample) => number | undefined, put: (labels: TaskSample['labels'], v: number) => void): void => {
    for (const s of samples()) {
      const v = value(s);
      if (v !== undefined) put(s.labels, v);
    }
  };
  const gauge = (name: string, help: string, value: (s: TaskSample) => number | undefined): void => {
    new Gauge({ name, help, labelNames, registers: [registry], collect() { this.reset(); each(value, (l, v) => this.set(l, v)); } });
  };
  const counter = (name: string, help: string, value: (s: TaskSample) => number | undefined): void => {
    new Counter({ name, help, labelNames, registers: [registry], collect() { this.reset(); each(value, (l, v) => this.inc(l, v)); } });
  };
  counter('gitcell_task_cpu_seconds_total', 'CPU time used by the task\'s current container (cgroup cpuacct; resets when the container is replaced)', (s) => s.cpuSeconds);
  gauge('gitcell_task_cpu_millicores', 'CPU used by the task between its last two cgroup samples', (s) => s.cpuMillicores);
  gauge('gitcell_task_cpu_request_millicores', 'CPU the task requests (its scheduling reservation)', (s) => s.cpuRequestMillicores);
  gauge('gitcell_task_memory_bytes', 'Memory working set of the task (usage minus inactive file cache)', (s) => s.memoryBytes);
  gauge('gitcell_task_memory_limit_bytes', 'Memory limit of the task, when it has one', (s) => s.memoryLimitBytes);
  counter('gitcell_task_restarts_total', 'Restarts of the task under its current template', (s) => s.restarts);
  gauge('gitcell_task_ready', '1 when the task runs and passes its readiness probe, else 0', (s) => (s.ready ? 1 : 0));
  gauge('gitcell_task_running', '1 when the task\'s container runs, else 0 (starting, backoff, stopping, finished)', (s) => (s.running ? 1 : 0));
}
