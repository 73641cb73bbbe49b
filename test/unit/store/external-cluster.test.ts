// The pointer a `gitcell up --nats` leaves in its state dir, so client commands find its NATS cluster.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXTERNAL_CLUSTER_FILE, readExternalCluster, removeExternalCluster, writeExternalCluster } from '../../../store/index.ts';

test('writeExternalCluster / readExternalCluster: URLs and the absolute credentials path, 0600, gone with removeExternalCluster', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gitcell-ext-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.equal(readExternalCluster(dir), undefined);
  writeExternalCluster(dir, { nats: 'nats://127.0.0.1:4222,nats://127.0.0.1:4223', creds: 'control.nk' });
  assert.deepEqual(readExternalCluster(dir), { nats: 'nats://127.0.0.1:4222,nats://127.0.0.1:4223', owner: process.pid, creds: join(process.cwd(), 'control.nk') });
  assert.equal(statSync(join(dir, EXTERNAL_CLUSTER_FILE)).mode & 0o777, 0o600);
  removeExternalCluster(dir);
  assert.equal(readExternalCluster(dir), undefined);
});

test('readExternalCluster ignores a record whose gitcell up is gone, and damaged files', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gitcell-ext-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, EXTERNAL_CLUSTER_FILE), JSON.stringify({ nats: 'nats://127.0.0.1:4222', owner: 2 ** 22 + 12345 }));
  assert.equal(readExternalCluster(dir), undefined);
  writeFileSync(join(dir, EXTERNAL_CLUSTER_FILE), '{"nats": ');
  assert.equal(readExternalCluster(dir), undefined);
});
