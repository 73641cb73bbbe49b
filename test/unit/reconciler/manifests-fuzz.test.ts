// Randomised hostile input must never crash the loader or the validator: every outcome is objects
// and problems with a file and a positive line and column. Seeded, so a failure replays exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { ManifestCollector, parseManifestFile, validateManifests, formatProblem } from '../../../reconciler/index.ts';

/** mulberry32 is a tiny seeded PRNG: the same seed gives the same garbage. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = Number(process.env.GITCELL_FUZZ_SEED ?? 20261125);
const rand = mulberry32(SEED);
const int = (n: number): number => Math.floor(rand() * n);
const pick = <T,>(xs: readonly T[]): T => xs[int(xs.length)]!;

const sampleDir = new URL('../../../sample-repo/', import.meta.url);
const samples = ['jobs/web.yaml', 'jobs/report.yaml', 'daemonsets/node-logger.yaml', 'cronjobs/cleanup.yaml', 'crds/databases.yaml', 'databases/orders.yaml', 'secrets/web-credentials.yaml']
  .map((f) => readFileSync(new URL(f, sampleDir), 'utf8'));
const badDir = new URL('../../fixtures/bad/', import.meta.url);
const corpus = samples.concat(readdirSync(badDir).filter((f) => f.endsWith('.yaml')).map((f) => readFileSync(new URL(f, badDir), 'utf8')));
const TOKENS = ['-', ':', ' ', '  ', '\n', '\t', '{', '}', '[', ']', ',', '&a', '*a', '!!str', '!tag', '|', '>', '#', '---', '...', '"', "'", '?', '%YAML 1.2', 'kind', 'Job', 'spec', 'metadata', 'name', 'apiVersion', 'gitcell.io/v1', '0x1F', '1e999', '~', 'null', '<<', '\u0000', '\uFEFF', '\u2028', '\\u00', 'é', '😀'];

function mutate(text: string): string {
  const chars = [...text];
  const edits = 1 + int(6);
  for (let e = 0; e < edits; e++) {
    const at = int(chars.length + 1);
    switch (int(5)) {
      case 0: chars.splice(at, 1 + int(8)); break; // delete
      case 1: chars.splice(at, 0, pick(TOKENS)); break; // insert a token
      case 2: chars.splice(at, 0, String.fromCharCode(int(0x250))); break; // insert a random char
      case 3: { const from = int(chars.length); chars.splice(at, 0, ...chars.slice(from, from + int(40))); break; } // duplicate a span
      default: chars[at] = pick(['\t', ' ', '\n', ':', '-']); // change indentation-ish
    }
  }
  return chars.join('');
}

function checkOutcome(name: string, files: Array<[string, Uint8Array]>): void {
  const c = new ManifestCollector();
  for (const [f, bytes] of files) c.add(f, bytes);
  const load = c.result();
  const { problems } = validateManifests(load);
  for (const p of problems) {
    assert.ok(p.line >= 1 && p.column >= 1 && Number.isInteger(p.line) && Number.isInteger(p.column), `${name}: bad position in ${formatProblem(p)}`);
    assert.ok(typeof p.code === 'string' && p.code.startsWith('E_'), `${name}: no code in ${formatProblem(p)}`);
    assert.ok(!/\n/.test(formatProblem(p)), `${name}: multi-line problem`);
  }
}

test(`mutated manifests never crash the loader or validator (seed ${SEED})`, () => {
  for (let i = 0; i < 400; i++) {
    const text = mutate(pick(corpus));
    checkOutcome(`mutation ${i}`, [[`m${i}.yaml`, Buffer.from(text)]]);
  }
});

test(`random bytes and token soup never crash (seed ${SEED})`, () => {
  for (let i = 0; i < 200; i++) {
    const bytes = new Uint8Array(int(2000));
    for (let j = 0; j < bytes.length; j++) bytes[j] = int(256);
    checkOutcome(`bytes ${i}`, [[`b${i}.yaml`, bytes]]);
    const soup = Array.from({ length: int(300) }, () => pick(TOKENS)).join('');
    checkOutcome(`soup ${i}`, [[`s${i}.json`, Buffer.from(soup)]]);
  }
});

test('deep nesting, huge strings, many keys and alias cycles are problems, not crashes', () => {
  const cases: Array<[string, string]> = [
    ['deep flow lists', `${'['.repeat(100_000)}${']'.repeat(100_000)}`],
    ['deep flow maps', `${'{a: '.repeat(20_000)}1${'}'.repeat(20_000)}`],
    ['deep block maps', Array.from({ length: 2_000 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n')],
    ['deep block lists', Array.from({ length: 2_000 }, (_, i) => `${' '.repeat(i * 2)}- `).join('\n')],
    ['huge string', `apiVersion: gitcell.io/v1\nkind: Job\nmetadata: {name: "${'x'.repeat(1_000_000)}"}\n`],
    ['huge key', `"${'k'.repeat(1_000_000)}": 1\n`],
    ['many keys', `kind: Job\nmetadata: {name: a}\nspec:\n${Array.from({ length: 50_000 }, (_, i) => `  k${i}: ${i}`).join('\n')}\n`],
    ['alias cycle', 'a: &x [*x]\n'],
    ['self merge', 'a: &x {<<: *x}\n'],
    ['unknown tags', 'kind: !!binary Sm9i\nmetadata: !custom {name: a}\n'],
    ['proto keys', 'apiVersion: gitcell.io/v1\nkind: Job\n__proto__: {polluted: true}\nconstructor: 1\nmetadata: {name: a, __proto__: x}\nspec: {type: batch, template: {image: x}}\n'],
    ['nul bytes', 'kind: Job\u0000\nmetadata: {name: a}\n'],
    ['only BOM', '\uFEFF'],
    ['CRLF', 'apiVersion: gitcell.io/v1\r\nkind: Job\r\nmetadata: {name: a}\r\nspec: {type: batch, template: {image: x}}\r\n'],
    ['many documents', Array.from({ length: 20_000 }, () => '---\n').join('')],
    ['numbers', 'apiVersion: 1e999\nkind: .inf\nmetadata: {name: -.nan}\n'],
  ];
  for (const [name, text] of cases) {
    checkOutcome(name, [[`${name}.yaml`, Buffer.from(text)]]);
  }
  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'prototype pollution');
});

test('a hostile CRD schema cannot break validation of its objects', () => {
  const crd = (schema: string) => `apiVersion: gitcell.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: things}\nspec:\n  group: example.com\n  names: {kind: Thing, plural: things}\n  versions: [{name: v1, schema: {openAPIV3Schema: ${schema}}}]\n---\napiVersion: example.com/v1\nkind: Thing\nmetadata: {name: t}\nspec: {a: 1}\n`;
  for (const schema of ['{$ref: "#"}', '{$ref: "http://example.com/x.json"}', '{type: object, properties: {spec: {pattern: "(a+)+$"}}}', '{not: {}}', '{type: [object, 7]}', '{oneOf: []}', '{$id: "a"}']) {
    checkOutcome(schema, [['crd.yaml', Buffer.from(crd(schema))]]);
  }
});

test('parseManifestFile refuses files over the size limit before decoding', () => {
  const r = parseManifestFile('big.yaml', new Uint8Array(1024 * 1024 + 1));
  assert.equal(r.problems[0]?.code, 'E_MANIFEST_TOO_LARGE');
  assert.equal(r.text, undefined);
});
