import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { sha256Digest } from '../../../runtime/image/index.ts';
import { isGitcellError } from '../../../lib/errors.ts';
import { scratch } from '../../helpers/runtime.ts';

const tmp = scratch();

test('writeBlob stores by sha256 and reads back', async () => {
  const cs = await tmp.contentStore();
  const data = Buffer.from('hello layers');
  const desc = await cs.writeBlob(data);
  assert.equal(desc.digest, sha256Digest(data));
  assert.equal(desc.size, data.length);
  assert.ok(await cs.has(desc.digest));
  assert.deepEqual(await cs.readBlob(desc.digest), data);
  const chunks: Buffer[] = [];
  for await (const c of await cs.openBlob(desc.digest)) chunks.push(c as Buffer);
  assert.deepEqual(Buffer.concat(chunks), data);
  assert.deepEqual(await cs.list(), [desc.digest]);
});

test('a digest mismatch stores nothing and leaves no temp file', async () => {
  const cs = await tmp.contentStore();
  const wrong = sha256Digest('something else');
  await assert.rejects(cs.writeBlob(Readable.from([Buffer.from('abc')]), { digest: wrong }), (e) => isGitcellError(e, 'E_DIGEST_MISMATCH'));
  assert.equal(await cs.has(wrong), false);
  assert.deepEqual(await cs.list(), []);
  assert.deepEqual(await readdir(cs.tmpDir), []);
});

test('a size mismatch (too long or too short) is rejected', async () => {
  const cs = await tmp.contentStore();
  const data = Buffer.from('0123456789');
  await assert.rejects(cs.writeBlob(data, { size: 5 }), (e) => isGitcellError(e, 'E_SIZE_MISMATCH'));
  await assert.rejects(cs.writeBlob(data, { size: 50 }), (e) => isGitcellError(e, 'E_SIZE_MISMATCH'));
  assert.deepEqual(await cs.list(), []);
});

test('missing blobs and malformed digests give clear errors', async () => {
  const cs = await tmp.contentStore();
  const d = sha256Digest('absent');
  await assert.rejects(cs.readBlob(d), (e) => isGitcellError(e, 'E_BLOB_NOT_FOUND'));
  await assert.rejects(cs.openBlob(d), (e) => isGitcellError(e, 'E_BLOB_NOT_FOUND'));
  await assert.rejects(cs.has('sha256:../../etc/passwd'), (e) => isGitcellError(e, 'E_DIGEST_INVALID'));
  await assert.rejects(cs.writeBlob(Buffer.from('x'), { digest: 'md5:abc' }), (e) => isGitcellError(e, 'E_DIGEST_INVALID'));
});

test('concurrent writes of the same blob are safe', async () => {
  const cs = await tmp.contentStore();
  const data = Buffer.alloc(256 * 1024, 7);
  const results = await Promise.all(Array.from({ length: 8 }, () => cs.writeBlob(Readable.from([data.subarray(0, 1000), data.subarray(1000)]), { digest: sha256Digest(data), size: data.length })));
  assert.ok(results.every((r) => r.digest === sha256Digest(data)));
  assert.deepEqual(await cs.readBlob(sha256Digest(data)), data);
  assert.deepEqual(await readdir(cs.tmpDir), []);
});

test('a source stream that fails early is a rejection, not a crash', async () => {
  const cs = await tmp.contentStore();
  const { createReadStream } = await import('node:fs');
  await assert.rejects(cs.writeBlob(createReadStream('/nonexistent/gitcell-blob')), (e) => (e as NodeJS.ErrnoException).code === 'ENOENT');
  assert.deepEqual(await cs.list(), []);
});
