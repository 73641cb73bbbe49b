import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chainIds, classifyWhiteout, cleanEntryName, layerIsGzip } from '../../../runtime/snapshot/index.ts';
import { isGitcellError } from '../../../lib/errors.ts';

test('cleanEntryName contains absolute names and refuses any ".." component', () => {
  const cases: [string, string[] | null][] = [
    ['etc/passwd', ['etc', 'passwd']],
    ['./etc//passwd', ['etc', 'passwd']],
    ['/etc/passwd', ['etc', 'passwd']], // contained below the root, not refused
    ['///', []],
    ['./', []],
    ['../etc', null],
    ['a/../../etc', null],
    ['a/..', null],
    ['a/b\0c', null],
    ['..foo/bar..', ['..foo', 'bar..']], // dots inside a name are just a name
  ];
  for (const [name, want] of cases) {
    const got = cleanEntryName(name);
    if (want === null) assert.equal(got.ok, false, name);
    else assert.deepEqual(got, { ok: true, parts: want }, name);
  }
});

test('classifyWhiteout tells whiteouts, opaque markers, meta names and invalid whiteouts apart', () => {
  assert.deepEqual(classifyWhiteout(['a', 'b']), { kind: 'none' });
  assert.deepEqual(classifyWhiteout(['a', '.wh.b']), { kind: 'whiteout', target: ['a', 'b'] });
  assert.deepEqual(classifyWhiteout(['.wh.b']), { kind: 'whiteout', target: ['b'] });
  assert.deepEqual(classifyWhiteout(['a', '.wh..wh..opq']), { kind: 'opaque', dir: ['a'] });
  assert.deepEqual(classifyWhiteout(['.wh..wh..opq']), { kind: 'opaque', dir: [] });
  assert.deepEqual(classifyWhiteout(['a', '.wh..wh.plnk']), { kind: 'meta' });
  for (const bad of ['.wh.', '.wh..', '.wh...']) assert.equal(classifyWhiteout(['a', bad]).kind, 'invalid', bad);
  assert.deepEqual(classifyWhiteout([]), { kind: 'none' });
});

test('chainIds follows the OCI definition', () => {
  const d0 = `sha256:${'a'.repeat(64)}`;
  const d1 = `sha256:${'b'.repeat(64)}`;
  // chainID(L1) = sha256("sha256:aaa… sha256:bbb…"), computed independently with sha256sum:
  //   printf 'sha256:%s sha256:%s' $(printf 'a%.0s' {1..64}) $(printf 'b%.0s' {1..64}) | sha256sum
  const ids = chainIds([d0, d1]);
  assert.equal(ids[0], d0);
  assert.equal(ids[1], 'sha256:ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c');
  assert.deepEqual(chainIds([d0, d1]), ids, 'deterministic');
  assert.throws(() => chainIds(['md5:x']), (e: unknown) => isGitcellError(e, 'E_BAD_DIGEST'));
});

test('layerIsGzip reads OCI and Docker media types and refuses unknown compressions', () => {
  assert.equal(layerIsGzip('application/vnd.oci.image.layer.v1.tar+gzip'), true);
  assert.equal(layerIsGzip('application/vnd.docker.image.rootfs.diff.tar.gzip'), true);
  assert.equal(layerIsGzip('application/vnd.oci.image.layer.v1.tar'), false);
  assert.throws(() => layerIsGzip('application/vnd.oci.image.layer.v1.tar+zstd'), (e: unknown) => isGitcellError(e, 'E_LAYER_UNSUPPORTED'));
});
