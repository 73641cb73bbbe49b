import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isGitcellError } from '../../../lib/index.ts';
import { decodeRecord, encodeRecord, jsonCodec, keyFilter, keyOf, validateKey } from '../../../store/record.ts';
import { parseAckSubject } from '../../../store/ack-subject.ts';
import { isWrongLastSequence, translateError } from '../../../store/errors.ts';

const enc = (s: string) => new TextEncoder().encode(s);

test('records round-trip through the envelope', () => {
  const c = jsonCodec<{ a: number }>(3);
  const bytes = encodeRecord(c, { a: 1 });
  assert.equal(new TextDecoder().decode(bytes), '{"schema":3,"data":{"a":1}}');
  assert.deepEqual(decodeRecord(c, bytes), { ok: true, value: { a: 1 }, schema: 3 });
});

test('bad records come back with a reason naming the field, never a throw', () => {
  const c = jsonCodec<unknown>(2);
  const cases: Array<[string, RegExp]> = [
    ['{oops', /not valid UTF-8 JSON/],
    ['[1]', /not a record envelope/],
    ['null', /not a record envelope/],
    ['{"data":1}', /field "schema": missing/],
    ['{"schema":0,"data":1}', /field "schema"/],
    ['{"schema":1.5,"data":1}', /field "schema"/],
    ['{"schema":1}', /field "data": missing/],
    ['{"schema":3,"data":1}', /version 3 is newer than 2/],
  ];
  for (const [input, reason] of cases) {
    const r = decodeRecord(c, enc(input));
    assert.equal(r.ok, false, input);
    assert.match(!r.ok ? r.reason : '', reason, input);
  }
  assert.equal(decodeRecord(c, new Uint8Array([0xff, 0xfe])).ok, false, 'invalid UTF-8');
  const strict = jsonCodec<number>(1, (d) => {
    if (typeof d !== 'number') throw new Error('must be a number');
    return d;
  });
  const r = decodeRecord(strict, enc('{"schema":1,"data":"x"}'));
  assert.deepEqual(r, { ok: false, reason: 'field "data": must be a number' });
});

test('keys: validation, prefix filters, joining parts', () => {
  for (const good of ['a', 'a.b', 'Job.default.web-1', 'x_y/z=1']) validateKey(good);
  for (const bad of ['', 'a..b', '.a', 'a.', 'a b', 'a.*', 'a.>', 'ä']) {
    assert.throws(() => validateKey(bad), (e) => isGitcellError(e, 'E_INVALID_KEY'), bad);
  }
  assert.equal(keyFilter(''), '>');
  assert.equal(keyFilter('node1'), 'node1.>');
  assert.equal(keyFilter('a.*.c'), 'a.*.c');
  assert.equal(keyFilter('a.>'), 'a.>');
  assert.throws(() => keyFilter('a b'), (e) => isGitcellError(e, 'E_INVALID_KEY'));
  assert.throws(() => keyFilter('a.>.b'), (e) => isGitcellError(e, 'E_INVALID_KEY'));
  assert.equal(keyOf('node1', 'task-a'), 'node1.task-a');
  assert.throws(() => keyOf('node1', 'a.b'), (e) => isGitcellError(e, 'E_INVALID_KEY'));
});

test('parseAckSubject reads both reply subject layouts', () => {
  // v1: $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>
  assert.deepEqual(parseAckSubject('$JS.ACK.KV_x.c1.1.42.7.1700000000000000000.3'), {
    streamSeq: 42,
    deliverySeq: 7,
    pending: 3,
    timestampMs: 1700000000000,
  });
  // v2: $JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>.<token>
  assert.deepEqual(parseAckSubject('$JS.ACK._.ACC.KV_x.c1.1.42.7.5.0.xyz'), { streamSeq: 42, deliverySeq: 7, pending: 0, timestampMs: 0 });
  assert.equal(parseAckSubject(undefined), undefined);
  assert.equal(parseAckSubject('_INBOX.abc'), undefined);
  assert.equal(parseAckSubject('$JS.ACK.a.b.c'), undefined);
  assert.equal(parseAckSubject('$JS.ACK.KV_x.c1.1.x.7.1.3'), undefined);
  // Against the split-and-BigInt reading it replaced, on both layouts with and without the 12th token.
  const reference = (reply: string) => {
    const t = reply.split('.');
    const base = t.length === 9 ? 4 : t.length >= 11 ? 6 : -1;
    if (base < 0) return undefined;
    const [streamSeq, deliverySeq, pending] = [t[base + 1], t[base + 2], t[base + 4]].map(Number) as [number, number, number];
    if (![streamSeq, deliverySeq, pending].every(Number.isSafeInteger)) return undefined;
    return { streamSeq, deliverySeq, pending, timestampMs: Number(BigInt(t[base + 3]!) / 1_000_000n) };
  };
  let seed = 7;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  for (let i = 0; i < 2000; i++) {
    const num = () => String(rand(4) === 0 ? rand(10) : rand(2 ** 31) * 1000 + rand(1000));
    const ts = `17965${String(rand(10 ** 9)).padStart(9, '0')}${String(rand(10 ** 5)).padStart(5, '0')}`;
    const tail = [num(), num(), num(), ts, num()];
    const reply = rand(2) ? ['$JS', 'ACK', 'KV_gitcell_tasks', `c${rand(99)}`, ...tail].join('.') : ['$JS', 'ACK', '_', 'ACC', 'KV_t', 'c', ...tail, ...(rand(2) ? ['r4nd'] : [])].join('.');
    assert.deepEqual(parseAckSubject(reply), reference(reply), reply);
  }
});

test('JetStream errors map to stable store codes', () => {
  assert.ok(isWrongLastSequence({ code: 10071, message: 'wrong last sequence: 3' }));
  assert.ok(isWrongLastSequence({ api_error: { err_code: 10071 }, message: '' }));
  assert.ok(!isWrongLastSequence(new Error('other')));
  assert.equal(translateError({ code: 10071, message: 'wrong last sequence: 3' }, 'update', 'b', 'k').code, 'E_CONFLICT');
  const timeout = Object.assign(new Error('timeout'), { name: 'TimeoutError' });
  assert.equal(translateError(timeout, 'put', 'b', 'k').code, 'E_STORE_UNAVAILABLE');
  const other = translateError(new Error('maximum payload exceeded'), 'put', 'b', 'k');
  assert.equal(other.code, 'E_STORE_FAILED');
  assert.match(other.message, /put b\/k: maximum payload exceeded/);
  const denied = Object.assign(new Error("Permissions Violation for Publish to \"$KV.x.k\""), { name: 'PermissionViolationError' });
  assert.equal(translateError(denied, 'put', 'x', 'k').code, 'E_PERMISSION_DENIED');
});

test('cluster layout helpers', async () => {
  const { splitServers } = await import('../../../store/connect.ts');
  const { bucketName, desiredKey, eventTokens, eventsSubjectRoot } = await import('../../../store/cluster.ts');
  assert.deepEqual(splitServers('nats://a:1, nats://b:2,,'), ['nats://a:1', 'nats://b:2']);
  assert.deepEqual(splitServers(['nats://a:1', 'nats://b:2,nats://c:3']), ['nats://a:1', 'nats://b:2', 'nats://c:3']);
  assert.equal(bucketName('tasks'), 'gitcell_tasks');
  assert.equal(bucketName('status', 't1_'), 't1_status');
  assert.equal(eventsSubjectRoot(), 'gitcell.events');
  assert.equal(eventsSubjectRoot('t1_'), 't1.events');
  assert.equal(desiredKey('Job', 'default', 'web'), 'Job.default.web');
  assert.throws(() => desiredKey('Job', 'default', 'a.b'), (e) => isGitcellError(e, 'E_INVALID_KEY'));
  assert.deepEqual(eventTokens({ object: { kind: 'Node', name: 'n1.example' } }), ['Node', '_', 'n1_example']);
});
