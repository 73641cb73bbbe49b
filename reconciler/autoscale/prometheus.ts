// The thin adapter to Prometheus' HTTP API for autoscale metrics: one instant query
// (GET /api/v1/query), whose vector answer is read as one value per task by a label. Tested
// against the real /usr/bin/prometheus (test/integration/monitor/autoscale-prometheus.test.ts).

/** DEFAULT_TASK_LABEL is the label carrying the task id in a per-task series. */
export const DEFAULT_TASK_LABEL = 'task';

interface QueryAnswer {
  status?: string;
  error?: string;
  data?: { resultType?: string; result?: Array<{ metric?: Record<string, string>; value?: [number, string] }> };
}

/**
 * queryPerTask runs `query` at `baseUrl` (e.g. http://127.0.0.1:9090) and returns its vector as
 * task id -> value, keyed by label `taskLabel`; samples without the label or with a value that is
 * not a finite number are left out (a task without a value is a missing metric). It throws with
 * Prometheus' own error for a bad query, and on a non-vector answer, an HTTP error or the deadline.
 */
export async function queryPerTask(baseUrl: string, query: string, taskLabel = DEFAULT_TASK_LABEL, timeoutMs = 5000): Promise<Map<string, number>> {
  const url = new URL('/api/v1/query', baseUrl);
  url.searchParams.set('query', query);
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const body = (await res.json().catch(() => ({}))) as QueryAnswer;
  if (!res.ok || body.status !== 'success') throw new Error(`prometheus ${url.host}: ${body.error ?? `HTTP ${res.status}`}`);
  if (body.data?.resultType !== 'vector') throw new Error(`prometheus query must answer an instant vector (got ${body.data?.resultType ?? 'nothing'})`);
  const out = new Map<string, number>();
  for (const s of body.data.result ?? []) {
    const task = s.metric?.[taskLabel];
    const value = Number(s.value?.[1]);
    if (task !== undefined && Number.isFinite(value)) out.set(task, value);
  }
  return out;
}
