/**
 * Facts about the machine an agent registers: capacity (read from the machine unless overridden),
 * runtime and kernel versions, addresses, and the `--labels` / `--capacity` flag parsers.
 */
import { availableParallelism, networkInterfaces, release, totalmem } from 'node:os';
import { UsageError, ErrorCodes } from '../lib/index.ts';
import { parseCpu, parseMemory, type Resources } from '../api/index.ts';
import { runCommand } from '../runtime/index.ts';

/** machineCapacity reads CPUs (as millicores) and memory (bytes) from the machine. */
export function machineCapacity(): Resources {
  return { cpuMillis: availableParallelism() * 1000, memoryBytes: totalmem() };
}

/** parseLabels parses `k=v,k2=v2` (the --labels flag); keys and values follow Kubernetes' charset. */
export function parseLabels(text: string | undefined, flag = '--labels'): Record<string, string> {
  const out: Record<string, string> = {};
  if (!text) return out;
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    if (eq < 0 || !/^([a-z0-9.-]+\/)?[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$/.test(key) || !/^([A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?)?$/.test(value)) {
      throw new UsageError(ErrorCodes.Usage, `${flag}: "${part}" is not key=value with a Kubernetes-style key and value`, { flag, value: part });
    }
    out[key] = value;
  }
  return out;
}

/** parseCapacity parses `cpu=2,memory=4Gi` over a base capacity (the --capacity flag). */
export function parseCapacity(text: string | undefined, base: Resources, flag = '--capacity'): Resources {
  const out = { ...base };
  if (!text) return out;
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [k, v] = part.split('=', 2);
    try {
      if (k === 'cpu' && v) out.cpuMillis = parseCpu(v);
      else if (k === 'memory' && v) out.memoryBytes = parseMemory(v);
      else throw new Error('expected cpu=QUANTITY or memory=QUANTITY');
    } catch (err) {
      throw new UsageError(ErrorCodes.Usage, `${flag}: "${part}": ${(err as Error).message}`, { flag, value: part });
    }
  }
  return out;
}

/** runcVersion returns runc's version ("1.1.5"), or "unknown" when runc cannot be run. */
export async function runcVersion(bin = 'runc'): Promise<string> {
  try {
    const r = await runCommand(bin, ['--version'], { helper: true });
    return /runc version (\S+)/.exec(r.stdout)?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** kernelVersion is the running kernel's release string. */
export function kernelVersion(): string {
  return release();
}

/** hostAddresses lists the machine's non-internal IPv4 addresses. */
export function hostAddresses(): string[] {
  return Object.values(networkInterfaces()).flat().filter((a) => a && a.family === 'IPv4' && !a.internal).map((a) => a!.address);
}
