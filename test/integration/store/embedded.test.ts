import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isGitcellError, silentLogger } from '../../../lib/index.ts';
import { Bucket, connectFromOptions, jsonCodec, startEmbedded, startOrConnect, StoreErrorCodes } from '../../../store/index.ts';
import { NATS_SERVER_BIN, startNatsServer } from '../../helpers/nats.ts';

async function tempStateDir(t: { after(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gitcell-state-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return join(dir, '.gitcell');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('embedded server: starts on loopback, is found by state dir, keeps data across restarts, stops', async (t) => {
  const stateDir = await tempStateDir(t);
  await assert.rejects(connectFromOptions({ stateDir }), (e) => isGitcellError(e, StoreErrorCodes.NoCluster) && /gitcell up/.test((e as Error).message));

  const first = await startOrConnect({ stateDir, log: silentLogger() });
  t.after(() => first.close());
  assert.equal(first.replicas, 1);
  assert.match(first.embedded!.url, /^nats:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(readFileSync(join(stateDir, 'nats.url'), 'utf8').trim(), first.embedded!.url);
  // A second owner on the same data dir is refused.
  await assert.rejects(startEmbedded({ stateDir, log: silentLogger() }), (e) => isGitcellError(e, 'E_EMBEDDED_RUNNING'));
  // A client command finds it through the state dir.
  const client = await connectFromOptions({ stateDir });
  const b = await Bucket.open<{ v: number }>(client, { name: 'persist' }, jsonCodec(), { log: silentLogger() });
  await b.put('k', { v: 42 });
  await client.close();
  const pid = first.embedded!.pid;
  await first.close();
  assert.ok(!alive(pid), 'server stopped');
  assert.ok(!existsSync(join(stateDir, 'nats.url')));
  await assert.rejects(connectFromOptions({ stateDir }), (e) => isGitcellError(e, StoreErrorCodes.NoCluster));

  const second = await startOrConnect({ stateDir, log: silentLogger() });
  t.after(() => second.close());
  const b2 = await Bucket.open<{ v: number }>(second.nc, { name: 'persist' }, jsonCodec(), { log: silentLogger() });
  assert.deepEqual((await b2.get('k'))?.value, { v: 42 }, 'data survived the restart');
  await second.close();
});

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return !alive(pid);
}

test('the server stops by itself when its owner is killed -9, and the next start reuses its data', async (t) => {
  const stateDir = await tempStateDir(t);
  const store = new URL('../../../store/index.ts', import.meta.url).href;
  const script = `import { startEmbedded, connect, Bucket, jsonCodec } from ${JSON.stringify(store)};
const s = await startEmbedded({ stateDir: ${JSON.stringify(stateDir)} });
const nc = await connect({ servers: s.url });
const b = await Bucket.open(nc, { name: 'persist' }, jsonCodec());
await b.put('k', { v: 7 });
process.stdout.write(JSON.stringify({ pid: s.pid }) + '\\n');
setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, GITCELL_LOG_LEVEL: 'silent' },
  });
  t.after(() => child.kill('SIGKILL'));
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d) => {
      buf += String(d);
      if (buf.includes('\n')) resolve(buf.split('\n')[0]!);
    });
    child.once('exit', (c) => reject(new Error(`child exited ${c} before starting the server`)));
  });
  const serverPid = (JSON.parse(line) as { pid: number }).pid;
  t.after(() => {
    if (alive(serverPid)) process.kill(serverPid, 'SIGKILL');
  });
  assert.ok(alive(serverPid));
  child.kill('SIGKILL');
  assert.ok(await waitGone(serverPid, 15_000), 'the server outlived its owner');
  const s = await startEmbedded({ stateDir, log: silentLogger() });
  t.after(() => s.stop());
  const nc = await connectFromOptions({ stateDir });
  t.after(() => nc.close());
  const b = await Bucket.open<{ v: number }>(nc, { name: 'persist' }, jsonCodec(), { log: silentLogger() });
  assert.deepEqual((await b.get('k'))?.value, { v: 7 });
});

test('a server somehow left behind on the data dir (owner dead) is replaced', async (t) => {
  const stateDir = await tempStateDir(t);
  const first = await startEmbedded({ stateDir, log: silentLogger() });
  await first.stop();
  // Start a server by hand on the same config, as if its owner and watchdog had both died.
  const confPath = join(stateDir, 'nats', 'server.conf');
  const orphan = spawn(NATS_SERVER_BIN, ['-c', confPath], { stdio: 'ignore' });
  t.after(() => orphan.kill('SIGKILL'));
  const dead = spawn('true');
  await new Promise((r) => dead.once('exit', r));
  writeFileSync(join(stateDir, 'nats.pid'), JSON.stringify({ server: orphan.pid, owner: dead.pid, url: 'nats://127.0.0.1:1' }));
  const s = await startEmbedded({ stateDir, log: silentLogger() });
  t.after(() => s.stop());
  assert.ok(await waitGone(orphan.pid!, 5000), 'the orphan was stopped');
  assert.notEqual(s.pid, orphan.pid);
});

test('--nats connects to an existing cluster instead of starting one', async (t) => {
  const server = await startNatsServer({ t });
  const stateDir = await tempStateDir(t);
  const c = await startOrConnect({ nats: `${server.url}, `, stateDir });
  t.after(() => c.close());
  assert.equal(c.embedded, undefined);
  assert.ok(!existsSync(join(stateDir, 'nats')), 'no embedded server data created');
  await c.close();
  await assert.rejects(
    connectFromOptions({ nats: server.url, creds: join(stateDir, 'missing.creds') }),
    (e) => isGitcellError(e) && /missing\.creds/.test((e as Error).message),
  );
});
