// The breakout table: named hostile layer tarballs (after containerd's archive tests). For each, the
// unpack must fail with the expected code or contain the entry, and a sentinel directory next to the
// snapshot root must be byte-for-byte unchanged afterwards.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { listOpaque, unpackLayer, type UnpackLimits } from '../../../runtime/snapshot/index.ts';
import { isGitcellError } from '../../../lib/errors.ts';
import { buildTar, treeFingerprint, withDeclaredSize, type TarEntry } from '../../helpers/tar.ts';
import { requireRoot, requireTools } from '../../helpers/root.ts';

let base = '';
let sentinel = '';

before(() => {
  requireRoot();
  requireTools('mknod', 'setfattr', 'getfattr');
  base = fs.mkdtempSync(join(tmpdir(), 'gitcell-breakout-'));
  sentinel = join(base, 'sentinel');
  fs.mkdirSync(join(sentinel, 'sub'), { recursive: true });
  fs.writeFileSync(join(sentinel, 'file'), 'original');
  fs.writeFileSync(join(sentinel, 'sub', 'deep'), 'original too');
});
after(() => {
  if (base) fs.rmSync(base, { recursive: true, force: true });
});

interface Case {
  name: string;
  entries: (s: string) => TarEntry[];
  /** an error code, or 'contained' with an optional check of the unpacked root */
  expect: string;
  check?: (root: string, s: string) => void | Promise<void>;
  gzip?: boolean;
  raw?: (s: string) => Promise<Buffer>;
  limits?: Partial<UnpackLimits>;
  diffId?: string;
}

const file = (name: string, content = 'pwned', mode?: number): TarEntry => ({ name, content, ...(mode !== undefined ? { mode } : {}) });
const dir = (name: string): TarEntry => ({ name, type: 'directory' });
const symlink = (name: string, linkname: string): TarEntry => ({ name, type: 'symlink', linkname });
const hardlink = (name: string, linkname: string): TarEntry => ({ name, type: 'link', linkname });
// The sentinel is base/sentinel and the root base/root-N, so "../sentinel" is one level up.

const cases: Case[] = [
  { name: 'dotdot file', entries: () => [file('../sentinel/pwned')], expect: 'E_LAYER_UNSAFE_PATH' },
  { name: 'dotdot deep', entries: () => [dir('a'), file('a/../../sentinel/pwned')], expect: 'E_LAYER_UNSAFE_PATH' },
  { name: 'dotdot overwrite existing', entries: () => [file('../sentinel/file')], expect: 'E_LAYER_UNSAFE_PATH' },
  {
    name: 'absolute path is contained', entries: (s) => [file(`${s}/pwned`)], expect: 'contained',
    check: (root, s) => assert.equal(fs.readFileSync(join(root, s, 'pwned'), 'utf8'), 'pwned'),
  },
  { name: 'symlink up and out', entries: () => [symlink('up', '..'), file('up/sentinel/pwned')], expect: 'E_LAYER_UNSAFE_LINK' },
  { name: 'symlink absolute then write through it', entries: (s) => [symlink('x', s), file('x/pwned')], expect: 'E_LAYER_UNSAFE_LINK' },
  { name: 'symlink deep relative', entries: () => [dir('a'), symlink('a/b', '../../../../../../..'), file('a/b/tmp/pwned')], expect: 'E_LAYER_UNSAFE_LINK' },
  {
    name: 'symlink then a file named through it with a trailing dot', entries: (s) => [symlink('f', `${s}/file`), file('f/.', 'x')], expect: 'contained',
    check: (root) => assert.equal(fs.readFileSync(join(root, 'f'), 'utf8'), 'x'),
  },
  {
    name: 'symlink replaced by a file (duplicate entry)', entries: (s) => [symlink('f', `${s}/file`), file('f', 'pwned')], expect: 'contained',
    check: (root) => assert.equal(fs.readFileSync(join(root, 'f'), 'utf8'), 'pwned'),
  },
  { name: 'directory replaced by symlink, then write into it', entries: (s) => [dir('d'), file('d/ok'), symlink('d', s), file('d/pwned')], expect: 'E_LAYER_UNSAFE_LINK' },
  { name: 'hardlink relative out', entries: () => [hardlink('h', '../sentinel/file')], expect: 'E_LAYER_UNSAFE_LINK' },
  { name: 'hardlink absolute out', entries: (s) => [hardlink('h', `${s}/file`)], expect: 'E_LAYER_UNSAFE_LINK' },
  { name: 'hardlink through a symlink', entries: (s) => [symlink('s', s), hardlink('h', 's/file')], expect: 'E_LAYER_UNSAFE_LINK' },
  { name: 'hardlink to a directory', entries: () => [dir('d'), hardlink('h', 'd')], expect: 'E_LAYER_UNSAFE_LINK' },
  {
    name: 'hardlink to a symlink, then write the link', entries: (s) => [symlink('s', `${s}/file`), hardlink('h', 's'), file('h', 'pwned')], expect: 'contained',
    check: (root) => assert.equal(fs.readFileSync(join(root, 'h'), 'utf8'), 'pwned'),
  },
  {
    name: 'hardlink then rewrite its target', entries: () => [file('a', 'one'), hardlink('b', 'a'), file('a', 'two')], expect: 'contained',
    check: (root) => {
      assert.equal(fs.readFileSync(join(root, 'a'), 'utf8'), 'two');
      assert.equal(fs.readFileSync(join(root, 'b'), 'utf8'), 'one');
    },
  },
  { name: 'whiteout naming the parent', entries: () => [dir('a'), { name: 'a/.wh..', type: 'file', content: '' }], expect: 'E_LAYER_BAD_WHITEOUT' },
  { name: 'whiteout with empty name', entries: () => [{ name: 'a/.wh.', content: '' }], expect: 'E_LAYER_BAD_WHITEOUT' },
  { name: 'whiteout outside the root', entries: () => [{ name: '../.wh.sentinel', content: '' }], expect: 'E_LAYER_UNSAFE_PATH' },
  { name: 'whiteout through a symlink', entries: (s) => [symlink('s', s), { name: 's/.wh.file', content: '' }], expect: 'E_LAYER_UNSAFE_LINK' },
  {
    name: 'whiteout, then its parent swapped for a symlink', entries: (s) => [{ name: 'd/.wh.newname', content: '' }, symlink('d', s)], expect: 'contained',
    check: (root, s) => {
      assert.equal(fs.readlinkSync(join(root, 'd')), s);
      assert.equal(fs.existsSync(join(s, 'newname')), false);
    },
  },
  {
    name: 'opaque marker, then its directory swapped for a symlink', entries: (s) => [{ name: 'd/.wh..wh..opq', content: '' }, symlink('d', s)], expect: 'contained',
    check: async (_root, s) => assert.deepEqual(await listOpaque(s), []),
  },
  {
    name: 'device nodes are skipped', expect: 'contained',
    entries: () => [{ name: 'dev/sda', type: 'character-device', devmajor: 8, devminor: 0 }, { name: 'dev/loop0', type: 'block-device', devmajor: 7, devminor: 0 }, { name: 'fifo', type: 'fifo' }],
    check: (root) => {
      assert.equal(fs.existsSync(join(root, 'dev', 'sda')), false);
      assert.equal(fs.existsSync(join(root, 'dev', 'loop0')), false);
      assert.equal(fs.existsSync(join(root, 'fifo')), false);
    },
  },
  {
    name: 'setuid and setgid bits are stripped', entries: () => [file('bin/su', '#!', 0o4755), file('bin/wall', '#!', 0o2755), { name: 'tmp', type: 'directory', mode: 0o1777 }], expect: 'contained',
    check: (root) => {
      assert.equal(fs.statSync(join(root, 'bin', 'su')).mode & 0o7777, 0o755);
      assert.equal(fs.statSync(join(root, 'bin', 'wall')).mode & 0o7777, 0o755);
      assert.equal(fs.statSync(join(root, 'tmp')).mode & 0o7777, 0o1777, 'sticky bit kept');
    },
  },
  { name: 'the root replaced by a file', entries: () => [file('./', 'x')], expect: 'E_LAYER_UNSAFE_PATH' },
  { name: 'file used as a directory', entries: () => [file('a', 'x'), file('a/b', 'y')], expect: 'E_LAYER_UNSAFE_PATH' },
  {
    name: 'gzip bomb', expect: 'E_LAYER_TOO_LARGE', gzip: true, limits: { maxBytes: 1024 * 1024 },
    raw: async () => gzipSync(await buildTar([file('zeros', Buffer.alloc(32 * 1024 * 1024) as unknown as string)])),
    entries: () => [],
  },
  {
    name: 'huge declared size', expect: 'E_LAYER_TOO_LARGE', limits: { maxBytes: 1024 * 1024 },
    raw: async () => withDeclaredSize(await buildTar([file('big', 'x')]), 8 * 1024 ** 3), entries: () => [],
  },
  { name: 'too many entries', expect: 'E_LAYER_TOO_MANY_ENTRIES', limits: { maxEntries: 10 }, entries: () => Array.from({ length: 11 }, (_, i) => file(`f${i}`)) },
  { name: 'not a tar at all', expect: 'E_LAYER_CORRUPT', raw: async () => Buffer.from('hello, this is not a tarball'.repeat(40)), entries: () => [] },
  { name: 'truncated tar', expect: 'E_LAYER_CORRUPT', raw: async () => (await buildTar([file('a', 'x'.repeat(4000))])).subarray(0, 1500), entries: () => [] },
  { name: 'corrupt gzip', expect: 'E_LAYER_CORRUPT', gzip: true, raw: async () => Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4, 5]), entries: () => [] },
  { name: 'diffID mismatch', expect: 'E_LAYER_DIFFID_MISMATCH', diffId: `sha256:${'0'.repeat(64)}`, entries: () => [file('a')] },
];

let n = 0;
for (const c of cases) {
  test(`breakout: ${c.name}`, async () => {
    const before = treeFingerprint(base, (rel) => rel.startsWith('root-'));
    const root = join(base, `root-${n++}`);
    fs.mkdirSync(root);
    const bytes = c.raw ? await c.raw(sentinel) : await buildTar(c.entries(sentinel), { gzip: c.gzip ?? false });
    const run = unpackLayer(Readable.from([bytes]), root, {
      gzip: c.gzip ?? false, layer: c.name, ...(c.limits ? { limits: c.limits } : {}), ...(c.diffId ? { expectedDiffId: c.diffId } : {}),
    });
    if (c.expect === 'contained') {
      await run;
      await c.check?.(root, sentinel);
    } else {
      await assert.rejects(run, (err: unknown) => {
        assert.ok(isGitcellError(err), `expected a GitcellError, got ${String(err)}`);
        assert.equal(err.code, c.expect, err.message);
        assert.match(err.message, new RegExp(c.name.replace(/[()]/g, '.')), 'the message names the layer');
        return true;
      });
    }
    assert.deepEqual(treeFingerprint(base, (rel) => rel.startsWith('root-')), before, 'nothing outside the snapshot root changed');
    fs.rmSync(root, { recursive: true, force: true });
  });
}
