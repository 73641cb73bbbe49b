/**
 * Probe executors: HTTP GET and TCP against the task's IP (reachable from the node through the
 * bridge, as kubelet probes a pod IP) and exec inside the container through the runtime. A probe
 * that does not answer within its timeout is a failure.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import type { ResolvedProbe } from '../api/index.ts';

/** ProbeTarget is where a probe runs: the task's IP, and exec for command probes. */
export interface ProbeTarget {
  ip?: string;
  exec?: (argv: string[], timeoutMs: number) => Promise<number>;
}

/** ProbeOutcome is a probe's result with a reason for the status message when it failed. */
export interface ProbeOutcome {
  ok: boolean;
  message?: string;
}

/** runProbe executes one probe attempt; it never throws. */
export async function runProbe(probe: ResolvedProbe, target: ProbeTarget): Promise<ProbeOutcome> {
  const timeoutMs = Math.max(1, probe.timeoutSeconds) * 1000;
  try {
    if (probe.httpGet) {
      if (!target.ip) return { ok: false, message: 'task has no IP' };
      return await httpGet(target.ip, probe.httpGet, timeoutMs);
    }
    if (probe.tcpSocket) {
      if (!target.ip) return { ok: false, message: 'task has no IP' };
      return await tcpConnect(target.ip, probe.tcpSocket.port, timeoutMs);
    }
    if (probe.exec) {
      if (!target.exec) return { ok: false, message: 'exec probes are not available' };
      const code = await target.exec(probe.exec.command, timeoutMs);
      return code === 0 ? { ok: true } : { ok: false, message: `exec probe exited with ${code}` };
    }
    return { ok: false, message: 'probe has no handler (httpGet, tcpSocket or exec)' };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}

/** httpGet succeeds on a status from 200 to 399, like kubelet. HTTPS skips certificate checks, as kubelet does. */
export function httpGet(ip: string, g: NonNullable<ResolvedProbe['httpGet']>, timeoutMs: number): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const req = (g.scheme === 'HTTPS' ? httpsRequest : httpRequest)({
      host: ip,
      port: g.port,
      path: g.path || '/',
      method: 'GET',
      headers: { 'User-Agent': 'gitcell-probe/1', ...Object.fromEntries((g.headers ?? []).map((h) => [h.name, h.value])) },
      timeout: timeoutMs,
      rejectUnauthorized: false,
      agent: false,
    }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      resolve(code >= 200 && code < 400 ? { ok: true } : { ok: false, message: `HTTP probe returned ${code}` });
    });
    req.on('timeout', () => req.destroy(new Error(`HTTP probe timed out after ${timeoutMs} ms`)));
    req.on('error', (e) => resolve({ ok: false, message: `HTTP probe failed: ${e.message}` }));
    req.end();
  });
}

/** tcpConnect succeeds when a TCP connection opens within the timeout. */
export function tcpConnect(ip: string, port: number, timeoutMs: number): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const s = connect({ host: ip, port });
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ ok: false, message: `TCP probe timed out after ${timeoutMs} ms` });
    }, timeoutMs);
    s.on('connect', () => {
      clearTimeout(timer);
      s.destroy();
      resolve({ ok: true });
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      resolve({ ok: false, message: `TCP probe failed: ${e.message}` });
    });
  });
}
