/**
 * The SLO e2e's workload and its view of Prometheus. The workload is the sample busybox image
 * only: httpd serves /cgi-bin/work (a CGI sleeping $DELAY seconds) and, as a static file, /metrics;
 * a shell loop in the same task calls /cgi-bin/work through `nc`, times each call from
 * /proc/uptime (centiseconds) and rewrites /metrics (atomically, by rename) as a Prometheus
 * histogram `http_request_duration_seconds` with buckets 0.1, 0.5 and 2.5 s. Its latency is what
 * its own client saw, so a commit changing DELAY really makes the task slow.
 */
import type { SLO } from '../../../api/index.ts';

/** LATENCY_APP is the task's shell script (`sh -c`). */
export const LATENCY_APP = String.raw`W=/www; mkdir -p $W/cgi-bin
cat > $W/cgi-bin/work <<'EOF'
#!/bin/sh
sleep "${'$'}{DELAY:-0}"
printf 'Content-Type: text/plain\r\n\r\nok\n'
EOF
chmod +x $W/cgi-bin/work && echo ok > $W/healthz && : > $W/metrics
httpd -f -p 8080 -h $W &
n=0; sum=0; b1=0; b5=0; b25=0
while true; do
  read a _ < /proc/uptime
  printf 'GET /cgi-bin/work HTTP/1.0\r\n\r\n' | nc -w 10 127.0.0.1 8080 > /dev/null
  read b _ < /proc/uptime
  d=$(( ${'$'}{b%.*}${'$'}{b#*.} - ${'$'}{a%.*}${'$'}{a#*.} ))
  n=$((n+1)); sum=$((sum+d))
  [ $d -le 10 ] && b1=$((b1+1)); [ $d -le 50 ] && b5=$((b5+1)); [ $d -le 250 ] && b25=$((b25+1))
  { echo '# TYPE http_request_duration_seconds histogram'
    echo "http_request_duration_seconds_bucket{le=\"0.1\"} $b1"
    echo "http_request_duration_seconds_bucket{le=\"0.5\"} $b5"
    echo "http_request_duration_seconds_bucket{le=\"2.5\"} $b25"
    echo "http_request_duration_seconds_bucket{le=\"+Inf\"} $n"
    printf 'http_request_duration_seconds_sum %d.%02d\n' $((sum/100)) $((sum%100))
    echo "http_request_duration_seconds_count $n"; } > $W/metrics.tmp && mv $W/metrics.tmp $W/metrics
  usleep 100000
done`;

/** latencyJob is the `lat` service Job whose requests take `delay` seconds (a string, as env values are). */
export function latencyJob(delay: string): object {
  return {
    apiVersion: 'gitcell.io/v1', kind: 'Job', metadata: { name: 'lat' },
    spec: {
      type: 'service', replicas: 1,
      template: {
        image: 'localhost/busybox:latest', command: ['sh', '-c'], args: [LATENCY_APP],
        env: [{ name: 'DELAY', value: delay }],
        resources: { requests: { cpu: '50m', memory: '16Mi' }, limits: { memory: '64Mi' } },
        ports: [{ name: 'metrics', containerPort: 8080 }],
        readinessProbe: { httpGet: { path: '/healthz', port: 'metrics' }, periodSeconds: 2 },
        restartPolicy: 'Always', terminationGracePeriodSeconds: 2,
      },
    },
  };
}

/**
 * latencySlo: 95 % of lat's requests within 0.5 s over 1 h. A loose objective on purpose: on a
 * shared machine at load 30 a fast request can take longer than 0.5 s now and then, and the fast
 * burn alert fires above 14.4 × 5 % = 72 % slow requests; DELAY=1 makes every one slow.
 */
export function latencySlo(): SLO {
  return {
    apiVersion: 'gitcell.io/v1', kind: 'SLO', metadata: { name: 'lat-latency' },
    spec: { job: 'lat', objective: 95, window: '1h', indicator: { latency: { histogram: 'http_request_duration_seconds', threshold: 0.5 } } },
  };
}

/** PromTarget, PromAlert, PromRule: the parts of Prometheus' API answers the test reads. */
export interface PromTarget { labels: Record<string, string>; health: string; lastError: string }
export interface PromAlert { labels: Record<string, string>; state: string; activeAt: string }
export interface PromRule { name: string; type: string; duration?: number }

/** PromClient asks a Prometheus' HTTP API (each call with a deadline). */
export class PromClient {
  constructor(readonly url: string) {}

  private async get<T>(path: string): Promise<T> {
    const res = await fetch(`${this.url}${path}`, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { data: T }).data;
  }

  /** targets are the active scrape targets with their discovered labels. */
  async targets(): Promise<PromTarget[]> {
    return (await this.get<{ activeTargets: PromTarget[] }>('/api/v1/targets?state=active')).activeTargets;
  }

  /** query runs an instant query. */
  async query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
    return (await this.get<{ result: Array<{ metric: Record<string, string>; value: [number, string] }> }>(`/api/v1/query?query=${encodeURIComponent(expr)}`)).result;
  }

  /** alerts are the pending and firing alerts. */
  async alerts(): Promise<PromAlert[]> {
    return (await this.get<{ alerts: PromAlert[] }>('/api/v1/alerts')).alerts;
  }

  /** rule finds a loaded rule by name (an alert's `for` is its duration in seconds). */
  async rule(name: string): Promise<PromRule | undefined> {
    const groups = (await this.get<{ groups: Array<{ rules: PromRule[] }> }>('/api/v1/rules')).groups;
    return groups.flatMap((g) => g.rules).find((r) => r.name === name);
  }
}
