import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { silentLogger } from '../../../lib/index.ts';
import { Keyring, sealValue } from '../../../secrets/index.ts';
import { sourceStatusKey, type SyncStatus } from '../../../reconciler/index.ts';
import { createSource } from '../../../reconciler/source/index.ts';
import { startReconcilerService } from '../../../reconciler/service/index.ts';
import { makeRepo } from '../../helpers/git-cli-repo.ts';
import { waitFor } from '../../helpers/wait.ts';
import { openTestStore } from '../../helpers/store.ts';

const log = silentLogger();

test('a tampered or moved sealed value stalls its revision; the last good Secret stays applied', async (t) => {
  const { store } = await openTestStore(t, { tag: 's', log });
  const stateDir = mkdtempSync(join(tmpdir(), 'gitcell-sealed-'));
  t.after(() => rmSync(stateDir, { recursive: true, force: true }));
  const keyring = await Keyring.open(stateDir, { modulusLength: 2048 });
  const seal = (name: string, key: string, value: string) => sealValue(keyring.publicKeyPem(), { namespace: 'default', name, key }, value);
  const secret = (password: string) =>
    dump({ apiVersion: 'gitcell.io/v1', kind: 'Secret', metadata: { name: 'db', namespace: 'default' }, spec: { encryptedData: { password } } });

  const repo = makeRepo();
  t.after(() => repo.cleanup());
  const good = repo.commit({ 'secrets/db.yaml': secret(seal('db', 'password', 'first')) }, 'db secret');
  const source = createSource({ repo: repo.dir, branch: 'main' }, log);
  const svc = await startReconcilerService({ store, source, leaseMs: 1500, log, controllers: false, sealingKeys: (id) => keyring.privateKey(id) });
  t.after(() => svc.stop());
  const status = async () => (await store.sync.get(sourceStatusKey('main')))?.value as SyncStatus | undefined;
  await waitFor('good revision applied', async () => (await status())?.lastAppliedRevision === good, 60_000);
  const applied = (await store.desired.get('Secret.default.db'))!.value;

  // The value sealed for Secret "other" pasted into "db": it must not open as db's.
  const moved = repo.commit({ 'secrets/db.yaml': `# moved from another Secret\n${secret(seal('other', 'password', 'stolen'))}` }, 'paste a value from another Secret');
  const stalled = await waitFor('moved value stalls', async () => {
    const s = await status();
    return s?.lastAttemptedRevision === moved && s.conditions.some((c) => c.type === 'Stalled' && c.status === 'True') ? s : undefined;
  }, 60_000);
  assert.equal(stalled.lastAppliedRevision, good);
  const problem = stalled.problems?.find((p) => p.code === 'E_SEALED_TAMPERED');
  assert.ok(problem, `problems: ${JSON.stringify(stalled.problems)}`);
  assert.equal(problem.file, 'secrets/db.yaml');
  assert.equal(problem.line, 2);
  assert.equal(problem.object, 'Secret/db');
  assert.equal(problem.path, 'spec.encryptedData.password');
  assert.match(problem.message, /Secret default\/db/);
  assert.ok(!JSON.stringify(stalled).includes('stolen'));
  assert.equal((await store.desired.get('Secret.default.db'))!.value.specHash, applied.specHash);

  // One flipped byte in a good value: tampered, stalled the same way.
  const bytes = Buffer.from(seal('db', 'password', 'second'), 'base64');
  bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1;
  const tampered = repo.commit({ 'secrets/db.yaml': secret(bytes.toString('base64')) }, 'tamper');
  await waitFor('tampered value stalls', async () => {
    const s = await status();
    return s?.lastAttemptedRevision === tampered && s.problems?.some((p) => p.code === 'E_SEALED_TAMPERED') ? true : undefined;
  }, 60_000);
  assert.equal((await status())?.lastAppliedRevision, good);

  // A correct value applies again.
  const fixed = repo.commit({ 'secrets/db.yaml': secret(seal('db', 'password', 'second')) }, 'fix');
  await waitFor('fixed revision applied', async () => (await status())?.lastAppliedRevision === fixed, 60_000);
});
