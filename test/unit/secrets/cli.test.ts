import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { Keyring, openValue } from '../../../secrets/index.ts';

const run = promisify(execFile);
const bin = join(import.meta.dirname, '../../../cli/bin.js');

test('secret pubkey then secret seal writes a manifest only the cluster opens', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'gitcell-seal-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const state = join(dir, 'state');

  const { stdout: pem } = await run(process.execPath, [bin, 'secret', 'pubkey', '--cluster-dir', state]);
  assert.match(pem, /^-----BEGIN PUBLIC KEY-----/);
  await writeFile(join(dir, 'cert.pem'), pem);
  await writeFile(join(dir, 'tls.key'), 'key-bytes\n');

  const { stdout } = await run(process.execPath, [
    bin, 'secret', 'seal', '--cert', join(dir, 'cert.pem'), '--name', 'web-tls', '--namespace', 'shop',
    '--from-literal', 'password=s3cret=with=equals', '--from-file', `tls.key=${join(dir, 'tls.key')}`,
  ]);
  assert.ok(!stdout.includes('s3cret') && !stdout.includes('key-bytes'));
  const manifest = load(stdout) as { kind: string; metadata: { name: string; namespace: string }; spec: { encryptedData: Record<string, string> } };
  assert.equal(manifest.kind, 'Secret');
  assert.deepEqual(manifest.metadata, { name: 'web-tls', namespace: 'shop' });
  assert.deepEqual(Object.keys(manifest.spec.encryptedData), ['password', 'tls.key']);

  const ring = await Keyring.open(state);
  const open = (key: string) => openValue(manifest.spec.encryptedData[key]!, { namespace: 'shop', name: 'web-tls', key }, (id) => ring.privateKey(id)).toString();
  assert.equal(open('password'), 's3cret=with=equals');
  assert.equal(open('tls.key'), 'key-bytes\n');
});

test('secret seal reports bad usage without a stack trace', async () => {
  const err = await run(process.execPath, [bin, 'secret', 'seal', '--cert', '/nonexistent.pem', '--name', 'x', '--from-literal', 'a=b']).catch((e) => e);
  assert.equal(err.code, 2);
  assert.match(err.stderr, /--cert \/nonexistent.pem: no such file/);
  assert.ok(!/\bat .*\.ts:\d+/.test(err.stderr));
});
