// The task buckets' codecs share repeated parts of decoded records without changing what a reader sees.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRecord, encodeRecord, roleCodec, sameJson, SharedParts } from '../../../store/index.ts';
import { taskEncoder } from '../../../store/shared-parts.ts';
import type { Binding, TaskSpec, TaskStatus } from '../../../api/index.ts';
import { makeTask } from '../../helpers/agent.ts';

test('sameJson: equal values, object keys in the same order; arrays are not objects', () => {
  const cases: [unknown, unknown, boolean][] = [
    [{ a: 1, b: [1, { c: 'x' }] }, { a: 1, b: [1, { c: 'x' }] }, true],
    [{ a: 1, b: 2 }, { b: 2, a: 1 }, false], // a reader that serialises would see another order
    [{ a: 1 }, { a: 1, b: undefined }, false],
    [[1, 2], [1, 2, 3], false],
    [[], {}, false],
    [{}, [], false],
    [null, {}, false],
    ['x', 'x', true],
    [1, '1', false],
  ];
  for (const [a, b, want] of cases) assert.equal(sameJson(a, b), want, `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
});

test('SharedParts: hands back the kept value only when equal, replaces it otherwise, starts over when full', () => {
  const p = new SharedParts(2);
  const a = { x: [1] };
  assert.equal(p.share('k', a), a);
  assert.equal(p.share('k', { x: [1] }), a);
  const b = { x: [2] };
  assert.equal(p.share('k', b), b); // same key, another value: the new one is kept
  assert.equal(p.share('k', { x: [2] }), b);
  p.share('k2', 1);
  const c = { y: 1 };
  assert.equal(p.share('k3', c), c); // full: cleared, then kept
  assert.equal(p.share('k3', { y: 1 }), c);
  assert.notEqual(p.share('k', { x: [2] }), b);
});

test('roleCodec: decoded task specs of one template share it, equal to the plain decode; others keep their own', () => {
  const codec = roleCodec<TaskSpec>('tasks');
  const one = makeTask('a', 'img', ['sleep', '1']);
  const two = { ...makeTask('b', 'img', ['sleep', '1']), templateHash: one.templateHash, owner: one.owner, jobKey: one.jobKey };
  const other = { ...makeTask('c', 'img', ['sleep', '2']), templateHash: one.templateHash }; // a hash that lies: not shared
  const decode = (t: TaskSpec): TaskSpec => {
    const r = decodeRecord(codec, encodeRecord(codec, t));
    assert.ok(r.ok);
    return r.value;
  };
  const [d1, d2, d3] = [decode(one), decode(two), decode(other)];
  assert.deepEqual(d1, one);
  assert.deepEqual(d2, two);
  assert.deepEqual(d3, other);
  assert.equal(JSON.stringify(d2), JSON.stringify(two));
  assert.equal(d1.template, d2.template);
  assert.equal(d1.owner, d2.owner);
  assert.notEqual(d3.template, d1.template);
  // Malformed parts are left for the readers' checks: no throw, nothing added.
  const bad = decodeRecord(codec, new TextEncoder().encode(JSON.stringify({ schema: 1, data: { id: 'x', templateHash: 7, template: 'no' } })));
  assert.ok(bad.ok);
  assert.deepEqual(bad.value, { id: 'x', templateHash: 7, template: 'no' });
});

test('roleCodec: statuses and bindings decode as they were written; other buckets plain', () => {
  const status = { taskId: 't', node: 'n1', templateHash: 'h', state: 'running', ready: true, restarts: 0, updatedAt: 'now' } as TaskStatus;
  const binding: Binding = { taskId: 't', node: 'n1', boundAt: 'now', schedulerTerm: 1 };
  for (const [role, value] of [['status', status], ['bindings', binding], ['nodes', { name: 'n1' }]] as const) {
    const codec = roleCodec<object>(role);
    const r = decodeRecord(codec, encodeRecord(codec, value));
    assert.ok(r.ok);
    assert.equal(JSON.stringify(r.value), JSON.stringify(value));
  }
  const codec = roleCodec<TaskStatus>('status');
  const noNode = decodeRecord(codec, new TextEncoder().encode(JSON.stringify({ schema: 1, data: { taskId: 't' } })));
  assert.ok(noNode.ok);
  assert.deepEqual(Object.keys(noNode.value), ['taskId']);
});

test('taskEncoder: exactly JSON.stringify, the template serialised once per object', () => {
  const encode = taskEncoder();
  const one = makeTask('a', 'img', ['sleep', '1'], { env: [{ name: 'Q', value: 'a "quoted"\n\u2028 value' }] });
  let reads = 0;
  // A template whose serialisation is counted: a getter JSON.stringify reads each time it walks it.
  const counted = { ...one.template };
  Object.defineProperty(counted, 'image', { enumerable: true, get: () => (reads++, 'img') });
  const cases: TaskSpec[] = [
    one,
    { ...one, id: 'b', nodeName: 'n-1', spread: { key: 'zone', maxSkew: 1 } } as TaskSpec,
    { ...one, id: 'c', runningOn: undefined, index: 7 }, // an undefined property is left out, as JSON.stringify does
    { ...one, id: 'd', template: counted },
    { ...one, id: 'e', template: counted, createdAt: '2026-01-01T00:00:00.000Z' },
    { template: 'not an object' } as unknown as TaskSpec,
    { template: null } as unknown as TaskSpec,
    {} as TaskSpec,
    // the mark's own text in a string, and a nested "template" key with the mark's value: still exact
    { ...one, id: '"template":"\u0000gitcell:template"' },
    { ...one, owner: { kind: 'Job', name: 'x', template: '\u0000gitcell:template' } } as unknown as TaskSpec,
  ];
  for (const t of cases) assert.equal(encode(t), JSON.stringify(t));
  // JSON.stringify above read the counted template twice itself; the encoder once for both tasks.
  assert.equal(reads, 3);
  // The whole record through the tasks codec: byte for byte the plain envelope.
  const codec = roleCodec<TaskSpec>('tasks');
  for (const t of cases.slice(0, 3)) assert.deepEqual(encodeRecord(codec, t), new TextEncoder().encode(JSON.stringify({ schema: 1, data: t })));
});
