/**
 * startPrometheus runs the real Prometheus (Debian's binary) on a free loopback port with the given
 * configuration, its data in a temporary directory; it is stopped (SIGTERM, awaited) and the
 * directory removed when the test ends. `log()` is the tail of its stderr, for failure messages.
 */
import type { TestContext } from 'node:test';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prometheusArgs, requirePrometheus } from '../../reconciler/index.ts';
import { freePort } from './nats.ts';

/** RunningPrometheus is a started Prometheus: its base URL and its stderr tail. */
export interface RunningPrometheus {
  url: string;
  log(): string;
}

/** startPrometheus starts Prometheus with `config` (prometheus.yml text). */
export async function startPrometheus(t: Pick<TestContext, 'after'>, config: string): Promise<RunningPrometheus> {
  const bin = requirePrometheus();
  const dir = mkdtempSync(join(tmpdir(), 'gitcell-prom-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, config);
  const listen = `127.0.0.1:${await freePort()}`;
  const prom = spawn(bin, prometheusArgs({ configFile, dir, listen }), { stdio: ['ignore', 'ignore', 'pipe'] });
  let tail = '';
  prom.stderr.on('data', (c: Buffer) => (tail = (tail + c.toString()).slice(-4000)));
  const exited = new Promise<void>((r) => prom.once('exit', () => r()));
  t.after(async () => {
    prom.kill('SIGTERM');
    await exited;
  });
  return { url: `http://${listen}`, log: () => tail };
}
