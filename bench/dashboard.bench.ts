/**
 * `npm run bench -- dashboard [--tasks N] [--updates N]`: the dashboard with 10,000 tasks.
 *
 * A real nats-server; N tasks of one Job seeded straight into the store (100 node records, every
 * task bound and running, as hollow nodes would report them); `gitcell dashboard` as its own
 * process (the compiled build); Debian's Chromium headless through puppeteer-core.
 *   first_paint_ms_10k_tasks: navigation to the job page (cache off) until it shows its rollout and the
 *                             first rows of its task list, which counts all N (the other rows follow
 *                             in chunks; the time until the browser holds every row goes to stderr)
 *   update_to_screen_p99_ms:  a task's status written to the store until the new value is in the DOM
 *   server_rss_mb_10k_tasks:  the dashboard process's peak RSS (VmHWM) after all of it
 * Targets (issue 16): < 1,000 ms, < 500 ms, < 150 MB. Last line: one JSON object.
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import { silentLogger } from '../lib/index.ts';
import { connect, openClusterStore } from '../store/index.ts';
import type { DesiredRecord, SyncRecord } from '../reconciler/index.ts';
import { startNatsServer } from '../test/helpers/nats.ts';
import { procStats } from '../test/helpers/scale.ts';
import { BIN } from '../test/helpers/up.ts';
import { jobRecord, webTask, workloadStatus } from '../test/integration/dashboard/seed.ts';
import { nodeRecord } from '../test/integration/scheduler/fixtures.ts';
import { launchChromium } from '../test/integration/dashboard/browser-helpers.ts';

const { values } = parseArgs({ options: { tasks: { type: 'string', default: '10000' }, updates: { type: 'string', default: '100' }, nodes: { type: 'string', default: '100' } } });
const TASKS = Number(values.tasks);
const UPDATES = Number(values.updates);
const NODES = Number(values.nodes);
const PREFIX = 'benchdash_';

const p = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(q * xs.length) - 1)]!;

async function seed(url: string): Promise<() => Promise<void>> {
  const nc = await connect({ servers: url, name: 'bench dashboard seed' });
  const s = await openClusterStore<DesiredRecord, SyncRecord>(nc, { prefix: PREFIX, log: silentLogger() });
  const now = new Date().toISOString();
  const writes: Promise<unknown>[] = [];
  for (let n = 0; n < NODES; n++) writes.push(s.nodes.put(`node-${n}`, nodeRecord(`node-${n}`, 64_000, 256 * 2 ** 30)));
  writes.push(s.desired.put('Job.default.big', jobRecord('big', TASKS)), s.sync.put('object.Job.default.big', workloadStatus('big', TASKS, TASKS) as unknown as SyncRecord));
  for (let i = 0; i < TASKS; i++) {
    const id = `big-${i}`;
    const node = `node-${i % NODES}`;
    writes.push(s.tasks.put(id, webTask('big', i, 10)), s.bindings.put(id, { taskId: id, node, boundAt: now, schedulerTerm: 1 }));
    writes.push(s.status.put(`${node}.${id}`, { taskId: id, node, templateHash: 'h2', state: 'running', ready: true, restarts: 0, updatedAt: now }));
    if (writes.length > 2000) await Promise.all(writes.splice(0));
  }
  await Promise.all(writes);
  return async () => {
    await nc.close();
  };
}

/** onScreen is a page expression resolving with Date.now() once task `id`'s restarts cell reads `value` (MutationObserver, 30 s at most). */
function onScreen(id: string, value: string): string {
  const cell = `document.querySelector('tr[data-key="${id}"] td:nth-child(5)')`;
  return `new Promise((resolve, reject) => {
    const done = () => ${cell}?.textContent === '${value}';
    if (done()) return resolve(Date.now());
    const o = new MutationObserver(() => { if (done()) { o.disconnect(); resolve(Date.now()); } });
    o.observe(document.body, { subtree: true, childList: true, characterData: true });
    setTimeout(() => { o.disconnect(); reject(new Error('row ${id} never showed ${value}: ' + ${cell}?.textContent)); }, 30000);
  })`;
}

/** stampWhen is a page script: window.__stamps[name] = Date.now() once `selector` first matches (MutationObserver). */
function stampWhen(selectors: Record<string, string>): string {
  return `(() => {
    window.__stamps = {};
    const todo = ${JSON.stringify(selectors)};
    const look = () => {
      for (const [name, sel] of Object.entries(todo)) if (!window.__stamps[name] && document.querySelector(sel)) window.__stamps[name] = Date.now();
    };
    new MutationObserver(look).observe(document, { subtree: true, childList: true, attributes: true });
  })()`;
}

/** startServer runs `gitcell dashboard` and resolves with its URL and pid. */
function startServer(url: string): Promise<{ url: string; pid: number; stop: () => void }> {
  const child = spawn(process.execPath, [BIN, 'dashboard', '--nats', url, '--prefix', PREFIX, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /dashboard: (http:\/\/\S+?)\/\n/.exec(out);
      if (m) resolve({ url: m[1]!, pid: child.pid!, stop: () => child.kill('SIGTERM') });
    });
    child.once('exit', (code) => reject(new Error(`gitcell dashboard exited (${code}) before listening: ${out}`)));
  });
}

async function main(): Promise<void> {
  const server = await startNatsServer();
  const cleanup: (() => Promise<unknown> | unknown)[] = [() => server.stop()];
  try {
    const t0 = Date.now();
    const closeSeed = await seed(server.url);
    cleanup.unshift(closeSeed);
    process.stderr.write(`bench dashboard: seeded ${TASKS} tasks on ${NODES} nodes in ${Date.now() - t0} ms\n`);
    const dash = await startServer(server.url);
    cleanup.unshift(dash.stop);
    const chromium = await launchChromium();
    cleanup.unshift(() => chromium.close());
    const page = await chromium.browser.newPage();
    await page.setViewport({ width: 1400, height: 1000 });
    page.on('pageerror', (err) => process.stderr.write(`bench dashboard: page error: ${(err as Error).message}\n`));
    // Warm: the server's informers synced and its rows built (the first browser would pay it once).
    // The server must hold every task before a paint means anything (a watch snapshot that stops
    // short would make a small page fast).
    let rows = 0;
    for (const until = Date.now() + 60_000; rows < TASKS && Date.now() < until; await new Promise((r) => setTimeout(r, 1000))) {
      rows = ((await fetch(`${dash.url}/api/overview`).then((r) => r.json())) as { taskTotal: number }).taskTotal;
    }
    if (rows < TASKS) throw new Error(`the dashboard server holds ${rows} of ${TASKS} tasks after 60 s: its tasks Informer missed part of the bucket's snapshot`);
    await page.setCacheEnabled(false); // every navigation loads the page as a first visit would
    const paints: number[] = [];
    const full: number[] = [];
    const snapshots: number[] = [];
    // The page stamps (its clock is this one) when the first rows and when every row are in the DOM:
    // under load the answer of a CDP poll can come hundreds of ms after the fact.
    await page.evaluateOnNewDocument(stampWhen({ firstRows: `[data-rows="${TASKS}"] tr[data-key]`, allRows: `[data-loaded="${TASKS}"]` }));
    for (let i = 0; i < 3; i++) {
      await page.goto('about:blank');
      const start = Date.now();
      await page.goto(`${dash.url}/jobs/default/big`, { waitUntil: 'domcontentloaded' });
      // First meaningful paint: the job page with the first rows of its task list, which says it has all N.
      await page.waitForSelector(`[data-loaded="${TASKS}"]`, { timeout: 60_000 }).catch(async (err) => {
        throw new Error(`${(err as Error).message}; the page shows: ${String(await page.evaluate('document.body.innerText.slice(0, 300)'))}`);
      });
      const stamps = (await page.evaluate(`({ ...window.__stamps, snapshot: performance.timeOrigin + performance.getEntriesByName('gitcell:snapshot-received')[0]?.startTime })`)) as Record<string, number>;
      paints.push(stamps.firstRows! - start);
      full.push(stamps.allRows! - start);
      snapshots.push(Math.round(stamps.snapshot! - start));
    }
    process.stderr.write(`bench dashboard: the stream's first message in the page after ${snapshots.join(', ')} ms; every task row after ${full.join(', ')} ms\n`);
    process.stderr.write(`bench dashboard: first paints ${paints.join(', ')} ms\n`);
    const nc = await connect({ servers: server.url, name: 'bench dashboard updates' });
    cleanup.unshift(() => nc.close());
    const s = await openClusterStore<DesiredRecord, SyncRecord>(nc, { prefix: PREFIX, log: silentLogger() });
    const delays: number[] = [];
    for (let i = 1; i <= UPDATES; i++) {
      const id = `big-${i % 20}`;
      const node = `node-${(i % 20) % NODES}`;
      // The page resolves with its own clock when the row shows the new value (same machine, same clock).
      const shown = page.evaluate(onScreen(id, String(i))) as Promise<number>;
      await page.evaluate('1'); // the observer is in place before the write
      const start = Date.now();
      await s.status.put(`${node}.${id}`, { taskId: id, node, templateHash: 'h2', state: 'running', ready: true, restarts: i, updatedAt: new Date().toISOString() });
      delays.push((await shown) - start);
    }
    const rss = procStats(dash.pid).peakRssMb;
    const result = { first_paint_ms_10k_tasks: Math.min(...paints), update_to_screen_p99_ms: p(delays, 0.99), server_rss_mb_10k_tasks: Math.round(rss) };
    process.stderr.write(`bench dashboard: update p50 ${p(delays, 0.5)} ms, max ${Math.max(...delays)} ms over ${UPDATES}; load ${loadavg()[0]!.toFixed(1)}\n`);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    for (const c of cleanup) await Promise.resolve(c()).catch(() => undefined);
  }
}

await main();
