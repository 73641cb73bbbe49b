// Reconciler benchmark. This part (reconciler-core) measures a full reconcile of 10,000 objects
// from scratch: a real Git commit of 10,000 Job manifests, an empty store on a real nats-server,
// reconcileRevision through every phase (read, validate, build, diff, apply, prune, health,
// status), then the controller loop until every Job has its task. reconciler-git adds
// commit-to-applied latency on a local repository (commit_to_applied_p50_ms/p99_ms).
//
//   npm run bench -- reconciler [--objects N] [--latency-objects N] [--commits N] [--skip-full]
//
// --skip-full leaves out the full reconcile and controller part (only commit-to-applied runs), to
// iterate on latency quickly; the numbers need a run without it.
// Last line: one JSON object with full_reconcile_10k_s, full_reconcile_10k_rss_mb (peak RSS of
// this process), controllers_10k_tasks_s, and the phase breakdown.
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../lib/index.ts';
import { connect, openClusterStore } from '../store/index.ts';
import {
  loadManifestsFromGit,
  reconcileRevision,
  runControllers,
  validateLoad,
  type DesiredRecord,
  type SyncRecord,
} from '../reconciler/index.ts';
import { startNatsServer } from '../test/helpers/nats.ts';
import * as fs from 'node:fs';
import isogit from 'isomorphic-git';
import { createLocalSource, startReconcilerService } from '../reconciler/index.ts';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const SKIP_FULL = process.argv.includes('--skip-full');
// With --skip-full the full-reconcile repository is not used: keep it tiny.
const OBJECTS = SKIP_FULL ? 1 : arg('objects', 10_000);
const PER_FILE = 100;

function manifest(i: number): string {
  return [
    'apiVersion: gitcell.io/v1',
    'kind: Job',
    'metadata:',
    `  name: app-${i}`,
    `  namespace: team-${i % 20}`,
    '  labels: {tier: web}',
    'spec:',
    '  type: service',
    '  replicas: 1',
    '  priority: production',
    '  strategy: {maxUnavailable: 1, maxSurge: 1}',
    '  template:',
    `    image: registry.local/app-${i % 50}:1.${i % 7}`,
    '    args: ["--port", "8080"]',
    '    env: [{name: MODE, value: prod}]',
    '    ports: [{name: http, containerPort: 8080}]',
    '    readinessProbe: {httpGet: {path: /healthz, port: http}}',
    '    resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {cpu: 500m, memory: 256Mi}}',
  ].join('\n');
}

async function makeRepo(): Promise<{ dir: string; commit: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'gitcell-bench-rec-'));
  await mkdir(join(dir, 'apps'));
  for (let f = 0; f * PER_FILE < OBJECTS; f++) {
    const docs: string[] = [];
    for (let i = f * PER_FILE; i < Math.min(OBJECTS, (f + 1) * PER_FILE); i++) docs.push(manifest(i));
    await writeFile(join(dir, 'apps', `apps-${String(f).padStart(4, '0')}.yaml`), docs.join('\n---\n') + '\n');
  }
  const git = (...args: string[]) => execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'bench@gitcell.invalid', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'bench@gitcell.invalid' } }).trim();
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-q', '-m', `${OBJECTS} jobs`);
  return { dir, commit: git('rev-parse', 'HEAD') };
}

const repo = await makeRepo();
const server = await startNatsServer();
const nc = await connect({ servers: server.url });
let result: Record<string, unknown> = {};
try {
  const store = await openClusterStore<DesiredRecord, SyncRecord>(nc, { prefix: `b${randomBytes(3).toString('hex')}_`, log: silentLogger() });
  if (SKIP_FULL) {
    result = await commitToApplied(server.url);
  } else {
    (globalThis as { gc?: () => void }).gc?.();
    const rssBefore = process.memoryUsage().rss;
    let peakRss = rssBefore;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 10);

    const t0 = performance.now();
    const out = await reconcileRevision({
      store,
      source: 'main',
      revision: repo.commit,
      read: () => loadManifestsFromGit({ dir: repo.dir, ref: repo.commit }),
      validate: (load) => validateLoad(load),
      log: silentLogger(),
    });
    const fullS = (performance.now() - t0) / 1000;
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    if (out.result !== 'Applied') throw new Error(`reconcile did not apply: ${out.result}: ${out.status.conditions.map((c) => c.message).join('; ')}`);
    const created = out.plan?.create.length ?? 0;
    if (created !== OBJECTS) throw new Error(`expected ${OBJECTS} objects created, got ${created}`);
    const phases = Object.fromEntries(out.status.history[0]!.phases.map((p) => [`phase_${p.phase}_ms`, Math.round(p.durationMs)]));
    console.log(`full reconcile of ${OBJECTS} objects: ${fullS.toFixed(2)} s, peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MB`, phases);

    // Controllers from scratch: every Job gets its task (and its status record).
    const ac = new AbortController();
    const t1 = performance.now();
    let tasksSeen = 0;
    const loop = runControllers({ store, signal: ac.signal, tickMs: 5000, log: silentLogger(), onPass: (r) => (tasksSeen += r.createTasks.length) });
    const deadline = Date.now() + 300_000;
    while (tasksSeen < OBJECTS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const controllersS = (performance.now() - t1) / 1000;
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    ac.abort();
    await loop.done;
    clearInterval(sampler);
    console.log(`controllers created ${tasksSeen} tasks in ${controllersS.toFixed(2)} s; peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MB`);
    result = {
      objects: OBJECTS,
      full_reconcile_10k_s: Number(fullS.toFixed(3)),
      full_reconcile_10k_rss_mb: Math.round(peakRss / 2 ** 20),
      controllers_10k_tasks_s: Number(controllersS.toFixed(3)),
      controllers_tasks_created: tasksSeen,
      ...phases,
    };
    result = { ...result, ...(await commitToApplied(server.url)) };
  }
} finally {
  await nc.close();
  await server.stop();
  await rm(repo.dir, { recursive: true, force: true });
}
console.log(JSON.stringify(result));

/**
 * commitToApplied (reconciler-git): a reconciler service follows a local repository of
 * LATENCY_OBJECTS Jobs; each of COMMITS commits changes one Job's image, and the latency is from
 * `git commit` returning to reconcileRevision reporting the revision Applied (desired objects and
 * status written). The controller loop is off so only the Git-to-store path is measured.
 */
async function commitToApplied(natsUrl: string): Promise<Record<string, number>> {
  const objects = arg('latency-objects', 1000);
  const commits = arg('commits', 20);
  const dir = await mkdtemp(join(tmpdir(), 'gitcell-bench-latency-'));
  const git = (...args: string[]) => execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'bench@gitcell.invalid', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'bench@gitcell.invalid' } }).trim();
  const file = (f: number, bump: Map<number, number>) => {
    const docs: string[] = [];
    for (let i = f * PER_FILE; i < Math.min(objects, (f + 1) * PER_FILE); i++) docs.push(manifest(i).replace(/:1\.(\d)$/m, `:1.$1-${bump.get(i) ?? 0}`));
    return docs.join('\n---\n') + '\n';
  };
  const bump = new Map<number, number>();
  await mkdir(join(dir, 'apps'));
  for (let f = 0; f * PER_FILE < objects; f++) await writeFile(join(dir, 'apps', `apps-${f}.yaml`), file(f, bump));
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-q', '-m', 'initial');
  const nc2 = await connect({ servers: natsUrl });
  const store = await openClusterStore<DesiredRecord, SyncRecord>(nc2, { prefix: `l${randomBytes(3).toString('hex')}_`, log: silentLogger() });
  const applied = new Map<string, number>();
  const seen = new Map<string, number>();
  const phaseTimes = new Map<string, number[]>();
  const source = createLocalSource({ repo: dir, branch: 'main' }, silentLogger());
  const start = source.start.bind(source);
  // Note when the source saw each commit, to split detection from reconcile time.
  source.start = (cb) => start((rev) => {
    seen.set(rev.sha, performance.now());
    cb(rev);
  });
  const svc = await startReconcilerService({
    store,
    source,
    controllers: false,
    leaseMs: 3000,
    log: silentLogger(),
    onReconciled: (rev, out) => {
      if (out.result === 'Applied' || out.result === 'Unchanged') applied.set(rev, performance.now());
      const h = out.status?.history[0];
      if (h) phaseTimes.set('total', [...(phaseTimes.get('total') ?? []), h.durationMs]);
      for (const ph of h?.phases ?? []) phaseTimes.set(ph.phase, [...(phaseTimes.get(ph.phase) ?? []), ph.durationMs]);
    },
  });
  const waitApplied = async (rev: string) => {
    const deadline = Date.now() + 60_000;
    while (!applied.has(rev)) {
      if (Date.now() > deadline) throw new Error(`revision ${rev} not applied within 60 s`);
      await new Promise((r) => setTimeout(r, 1));
    }
    return applied.get(rev)!;
  };
  const latencies: number[] = [];
  const detect: number[] = [];
  const afterSeen: number[] = [];
  try {
    await waitApplied(git('rev-parse', 'HEAD'));
    for (let c = 0; c < commits; c++) {
      const i = (c * 37) % objects;
      bump.set(i, (bump.get(i) ?? 0) + 1);
      const f = Math.floor(i / PER_FILE);
      await writeFile(join(dir, 'apps', `apps-${f}.yaml`), file(f, bump));
      git('commit', '-q', '-am', `bump app-${i}`);
      const committed = performance.now();
      // In-process and async: a second git process here would block the event loop and delay the source.
      const rev = await isogit.resolveRef({ fs, dir, ref: 'HEAD' });
      latencies.push((await waitApplied(rev)) - committed);
      detect.push(seen.get(rev)! - committed);
      afterSeen.push(applied.get(rev)! - seen.get(rev)!);
    }
  } finally {
    await svc.stop();
    await nc2.close();
    await rm(dir, { recursive: true, force: true });
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  // Nearest-rank percentiles: p50 of 20 is the 10th value, p99 the 20th.
  const pct = (p: number) => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const phaseMedians = Object.fromEntries([...phaseTimes].map(([ph, xs]) => [`commit_phase_${ph}_p50_ms`, Math.round(median(xs))]));
  console.log(`commit to applied, ${objects} objects, ${commits} commits: p50 ${pct(50).toFixed(1)} ms, p99 ${pct(99).toFixed(1)} ms; seen by the source after ${median(detect).toFixed(1)} ms (p50)`, phaseMedians);
  return { ...phaseMedians, commit_to_seen_p50_ms: Number(median(detect).toFixed(1)), seen_to_applied_p50_ms: Number(median(afterSeen).toFixed(1)), latency_objects: objects, commit_to_applied_p50_ms: Number(pct(50).toFixed(1)), commit_to_applied_p99_ms: Number(pct(99).toFixed(1)) };
}
