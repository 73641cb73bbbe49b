// Helpers of the client-command tests: run the real `gitcell` binary as a user would (its stdout,
// stderr and exit status), through a shell pipeline or a pseudo-terminal when the test needs one,
// against one cluster per test file: a real nats-server, the real reconciler process following a
// real git repository, and simulated nodes (test/integration/reconciler/sim.ts).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { dump } from 'js-yaml';
import { BIN } from '../../helpers/up.ts';
import { makeRepo, type TestRepo } from '../../helpers/git-cli-repo.ts';
import { openTestStore, type TestStore } from '../../helpers/store.ts';
import { startSim, type SimOptions } from '../reconciler/sim.ts';

/** Run is what one CLI invocation printed and how it exited. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** run executes `gitcell ARGS` (no terminal: stdout and stderr are pipes). */
export function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, GITCELL_LOG_LEVEL: 'warn', ...env }, timeout: 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** shell runs a bash command line (pipelines: `gitcell ... | head -2`) with $GITCELL set to the binary. */
export function shell(line: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile('/bin/bash', ['-o', 'pipefail', '-c', line], { env: { ...process.env, GITCELL: `${process.execPath} ${BIN}`, ...env }, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** onTerminal runs `gitcell ARGS` with stdout on a pseudo-terminal (util-linux `script`), returning what it wrote. */
export function onTerminal(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const cmd = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return shell(`script -qefc ${JSON.stringify(cmd)} /dev/null`, { TERM: 'xterm', ...env });
}

/** job renders a Job manifest. */
export function job(name: string, image: string, extra: { type?: 'service' | 'batch'; replicas?: number; completions?: number; labels?: Record<string, string> } = {}): string {
  const type = extra.type ?? 'service';
  return dump({
    apiVersion: 'gitcell.io/v1',
    kind: 'Job',
    metadata: { name, namespace: 'default', ...(extra.labels ? { labels: extra.labels } : {}) },
    spec: {
      type,
      ...(type === 'service' ? { replicas: extra.replicas ?? 1 } : { completions: extra.completions ?? 1, parallelism: extra.completions ?? 1 }),
      template: { image, resources: { requests: { cpu: '10m', memory: '16Mi' } } },
    },
  });
}

/** Cluster is the one cluster of a test file. */
export interface Cluster extends TestStore {
  repo: TestRepo;
  /** the flags that point a command at this cluster */
  flags: string[];
  reconciler: ChildProcess;
  /** the reconciler's state dir (its sealing keys and the cluster's commit signing key) */
  stateDir: string;
  stderr(): string;
}

/** startCluster starts the store, simulated nodes and the reconciler process following a new repository. */
export async function startCluster(t: TestContext, sim: SimOptions, files: Record<string, string>): Promise<Cluster> {
  const ts = await openTestStore(t, { tag: 'cli' });
  const s = await startSim(ts.store, sim);
  t.after(() => s.stop());
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  repo.commit(files, 'initial');
  const stateDir = mkdtempSync(join(tmpdir(), 'gitcell-cli-state-'));
  t.after(() => rmSync(stateDir, { recursive: true, force: true }));
  const reconciler = spawn(process.execPath, [BIN, 'reconciler', '--repo', repo.dir, '--nats', ts.server.url, '--prefix', ts.prefix, '--cluster-dir', stateDir, '--allow-plaintext-secrets', '--node-settle', '0'], {
    env: { ...process.env, GITCELL_LOG_LEVEL: 'warn', GITCELL_LOG_PRETTY: '0' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  reconciler.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<void>((resolve) => reconciler.once('exit', () => resolve()));
  t.after(async () => {
    if (reconciler.exitCode === null) reconciler.kill('SIGTERM');
    await exited;
  });
  return { ...ts, repo, reconciler, stateDir, flags: ['--nats', ts.server.url, '--prefix', ts.prefix], stderr: () => stderr };
}
