import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isGitcellError, silentLogger } from '../../../lib/index.ts';
import { Bucket, connectFromOptions, jsonCodec, startEmbedded, startOrConnect, StoreErrorCodes } from '../../../store/index.ts';
import { startNatsServer } from '../../helpers/nats.ts';

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

test('a server left behind by a dead owner is replaced', async (t) => {
  const stateDir = await tempStateDir(t);
  const { spawn } = await import('node:child_process');
  // A child gitcell process starts the embedded server and is then killed -9, leaving it orphaned.
  const script = `import { startEmbedded } from ${JSON.stringify(new URL('../../../store/index.ts', import.meta.url).href)};
const s = await startEmbedded({ stateDir: ${JSON.stringify(stateDir)} });
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
  const orphan = (JSON.parse(line) as { pid: number }).pid;
  t.after(() => {
    if (alive(orphan)) process.kill(orphan, 'SIGKILL');
  });
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.ok(alive(orphan), 'the orphan is still running');
  const s = await startEmbedded({ stateDir, log: silentLogger() });
  t.after(() => s.stop());
  assert.ok(!alive(orphan), 'the orphan was stopped');
  assert.notEqual(s.pid, orphan);
  await s.stop();
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
