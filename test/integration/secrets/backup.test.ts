import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger, isGitcellError } from '../../../lib/index.ts';
import { connect, openClusterStore } from '../../../store/index.ts';
import { Keyring, openValue, sealValue } from '../../../secrets/index.ts';
import { syncKeyBackup, type BackupStore } from '../../../reconciler/index.ts';
import { startNatsServer } from '../../helpers/nats.ts';

const run = promisify(execFile);
const bin = join(import.meta.dirname, '../../../cli/bin.js');
const scope = { namespace: 'default', name: 'db', key: 'password' };
const FAST = { modulusLength: 2048 };

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

test('the key ring survives the loss of the state directory through its encrypted backup in the store', async (t) => {
  const server = await startNatsServer({ t });
  const nc = await connect({ servers: server.url });
  t.after(() => nc.close());
  const store = await openClusterStore(nc, { prefix: 'kb_', log: silentLogger() });
  const backups = store.sync as unknown as BackupStore;
  const dir = mkdtempSync(join(tmpdir(), 'gitcell-keybackup-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  const original = await Keyring.open(join(dir, 'a'), FAST);
  await original.rotate();
  const sealed = sealValue(original.publicKeyPem(), scope, 'kept');
  assert.deepEqual(await syncKeyBackup(original, backups, 'pass phrase'), { restored: 0 });

  // A new, empty state directory (the old one is lost): the store's backup brings every pair back,
  // and the backed-up active key stays active, so `secret pubkey` keeps printing the same key.
  const fresh = await Keyring.open(join(dir, 'b'), FAST);
  await assert.rejects(syncKeyBackup(fresh, backups, 'wrong'), (err) => isGitcellError(err, 'E_KEY_BACKUP'));
  const { restored } = await syncKeyBackup(fresh, backups, 'pass phrase');
  assert.equal(restored, 2);
  assert.equal(fresh.activeKeyId, original.activeKeyId);
  assert.equal(openValue(sealed, scope, (id) => fresh.privateKey(id)).toString(), 'kept');

  // The store holds the pairs only encrypted.
  const raw = filesUnder(server.dir).map((f) => readFileSync(f, 'latin1')).join('');
  assert.ok(raw.includes('keyring.backup'));
  assert.ok(!raw.includes('PRIVATE KEY'));
});

test('secret rotate-key adds a pair a running reconciler picks up from disk, old values still open', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gitcell-rotate-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const running = await Keyring.open(dir, FAST); // what a running reconciler holds
  const before = sealValue(running.publicKeyPem(), scope, 'old');
  const { stdout } = await run(process.execPath, [bin, 'secret', 'rotate-key', '--cluster-dir', dir]);
  assert.match(stdout, /active sealing key: [0-9a-f]{16} \(was [0-9a-f]{16}; 2 pairs kept\)/);
  const { stdout: pem } = await run(process.execPath, [bin, 'secret', 'pubkey', '--cluster-dir', dir]);
  const after = sealValue(pem, scope, 'new');
  assert.equal(openValue(after, scope, (id) => running.privateKey(id)).toString(), 'new');
  assert.equal(openValue(before, scope, (id) => running.privateKey(id)).toString(), 'old');
});
