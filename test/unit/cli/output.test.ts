import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsonpath } from '../../../cli/jsonpath.ts';
import { colorEnabled, paint, parseOutput, renderListing } from '../../../cli/output.ts';
import { BUILTIN_KINDS, customKinds, parseSelector, resolveKind } from '../../../cli/kinds.ts';
import { requirementsMatch as selectorMatches } from '../../../api/index.ts';
import { taskReason, workloadCells } from '../../../cli/listings.ts';
import { isGitcellError } from '../../../lib/errors.ts';

const list = { kind: 'List', items: [{ metadata: { name: 'a', labels: { app: 'x' } }, spec: { n: 1 } }, { metadata: { name: 'b' }, spec: { n: 2 } }] };

test('jsonpath: kubectl template subset', () => {
  assert.equal(jsonpath('{.items[*].metadata.name}', list), 'a b');
  assert.equal(jsonpath('{.items[0].metadata.name}', list), 'a');
  assert.equal(jsonpath('{.items[-1].spec.n}', list), '2');
  assert.equal(jsonpath("{.items[0].metadata.labels['app']}", list), 'x');
  assert.equal(jsonpath('{range .items[*]}{.metadata.name}={.spec.n}{"\\n"}{end}', list), 'a=1\nb=2\n');
  assert.equal(jsonpath('names: {..name}', list), 'names: a b');
  assert.equal(jsonpath('{.items[0].spec}', list), '{"n":1}');
  assert.equal(jsonpath('{.nothing.here}', list), '');
  assert.equal(jsonpath('{[*].x}', [{ x: 1 }, { x: 2 }]), '1 2');
  for (const bad of ['{.items', '{range .items[*]}', '{end}', '{.items[?(@.x)]}']) {
    assert.throws(() => jsonpath(bad, list), (e) => isGitcellError(e, 'E_USAGE'), bad);
  }
});

test('parseOutput: every format, jsonpath with or without quotes, the closest on a typo', () => {
  for (const f of ['table', 'wide', 'json', 'yaml', 'name']) assert.deepEqual(parseOutput(f), { format: f });
  assert.deepEqual(parseOutput("jsonpath='{.a}'"), { format: 'jsonpath', expr: '{.a}' });
  assert.deepEqual(parseOutput(undefined), { format: 'table' });
  assert.throws(() => parseOutput('jsn'), /did you mean -o json\?/);
  assert.throws(() => parseOutput('wide', ['table', 'json']), /expected one of table, json/);
});

test('renderListing: table, wide, name and values', () => {
  const l = { head: ['NAME', 'N'], wideHead: ['X'], rows: [{ name: 'job/a', cells: ['a', 1], wide: ['x'] }], json: [{ a: 1 }] };
  assert.equal(renderListing(l, { format: 'table' }), 'NAME   N\na      1\n');
  assert.equal(renderListing(l, { format: 'wide' }), 'NAME   N   X\na      1   x\n');
  assert.equal(renderListing(l, { format: 'name' }), 'job/a\n');
  assert.equal(renderListing(l, { format: 'yaml' }), '- a: 1\n');
  assert.equal(renderListing(l, { format: 'jsonpath', expr: '{[0].a}' }), '1\n');
});

test('colour: only on a terminal, never with NO_COLOR or TERM=dumb', () => {
  assert.equal(colorEnabled({ isTTY: true }, {}), true);
  assert.equal(colorEnabled({ isTTY: false }, {}), false);
  assert.equal(colorEnabled({ isTTY: true }, { NO_COLOR: '1' }), false);
  assert.equal(colorEnabled({ isTTY: true }, { TERM: 'dumb' }), false);
  assert.equal(paint('x', 'red', false), 'x');
  assert.equal(paint('x', 'red', true), '\x1b[31mx\x1b[0m');
});

test('kinds: any name, case-insensitive, user kinds, the closest on a typo', () => {
  const kinds = [...BUILTIN_KINDS, ...customKinds([{ group: 'e.com', names: { kind: 'Database', plural: 'databases', shortNames: ['db'] }, versions: [] }])];
  for (const n of ['Job', 'jobs', 'JOB']) assert.equal(resolveKind(n, kinds).kind, 'Job');
  for (const n of ['db', 'Database', 'databases', 'database']) assert.equal(resolveKind(n, kinds).kind, 'Database');
  assert.equal(resolveKind('ds', kinds).kind, 'DaemonSet');
  assert.throws(() => resolveKind('jbos', kinds), /did you mean "jobs"\?/);
});

test('label selectors: =, !=, in, notin, exists, !exists', () => {
  const m = (sel: string, labels: Record<string, string>) => selectorMatches(parseSelector(sel), labels);
  assert.equal(m('app=web', { app: 'web' }), true);
  assert.equal(m('app==web,tier', { app: 'web' }), false);
  assert.equal(m('app!=web', {}), true);
  assert.equal(m('env in (a, b),!legacy', { env: 'b' }), true);
  assert.equal(m('env notin (a,b)', { env: 'b' }), false);
  assert.equal(m('', { x: '1' }), true);
  assert.throws(() => parseSelector('a=(b'), /unbalanced/);
  assert.throws(() => parseSelector('=x'), /cannot read "=x"/);
});

test('taskReason and workloadCells: why, not just a state', () => {
  const msg = 'start failed: image web:9 is not in the local store (pull or import it first)';
  assert.equal(taskReason({ state: 'backoff', ready: false, status: { message: msg } as never }), 'ImagePullBackOff');
  assert.equal(taskReason({ state: 'backoff', ready: false, status: { message: 'exited 1; restarting in 10 s' } as never }), 'CrashLoopBackOff');
  assert.equal(taskReason({ state: 'failed', ready: false, status: { exitCode: 3 } as never }), 'Error (exit 3)');
  assert.equal(taskReason({ state: 'succeeded', ready: false }), 'Completed');
  assert.equal(taskReason({ state: 'unscheduled', ready: false }), 'Unscheduled');
  const batch = { desired: 3, ready: 0, current: 0, updated: 0, conditions: [], batch: { phase: 'Complete', succeeded: 3, failed: 0, active: 0, startedAt: '' } } as never;
  assert.deepEqual(workloadCells('batch', batch), { ready: '3/3', status: 'Complete', reason: '-' });
});

test('logs --since: a duration back from now or an RFC 3339 time', async () => {
  const { sinceTime } = await import('../../../cli/commands/logs.ts');
  assert.equal(sinceTime('10m', Date.parse('2026-01-01T00:10:00Z')), '2026-01-01T00:00:00.000Z');
  assert.equal(sinceTime('2026-01-02T03:04:05Z'), '2026-01-02T03:04:05.000Z');
  assert.throws(() => sinceTime('yesterday'), /--since "yesterday"/);
});
