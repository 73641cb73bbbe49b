// The watch's reads of a delivery's headers (store/msg-headers.ts) give what nats.js' own decode
// gives, from the bytes of nats.js' own message class, and fall back to it for other shapes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Msg } from '@nats-io/transport-node';
import { MsgImpl } from '@nats-io/nats-core/internal';
import { headerBlock, headerStatus, kvOperation, replyBytes, subjectTail } from '../../../store/msg-headers.ts';
import { parseAck, parseAckSubject } from '../../../store/ack-subject.ts';

const te = new TextEncoder();

/** delivered makes a message as nats.js' parser hands it to a subscription: header block, then payload. */
function delivered(header: string | undefined, payload = '{"schema":1,"data":{}}'): Msg {
  const h = header === undefined ? new Uint8Array(0) : te.encode(header);
  const body = te.encode(payload);
  const data = new Uint8Array(h.length + body.length);
  data.set(h);
  data.set(body, h.length);
  const arg = { subject: te.encode('$KV.b.k'), reply: te.encode(''), sid: 1, hdr: header === undefined ? -1 : h.length, size: data.length };
  return new MsgImpl(arg as never, data, {} as never) as unknown as Msg;
}

test('headerStatus and kvOperation: as msg.headers, read in place', () => {
  const cases: (string | undefined)[] = [
    undefined, // a put with no headers
    'NATS/1.0\r\nNats-Expected-Last-Subject-Sequence: 0\r\n\r\n', // a create
    'NATS/1.0\r\nKV-Operation: DEL\r\n\r\n',
    'NATS/1.0\r\nNats-Expected-Last-Subject-Sequence: 41\r\nKV-Operation: PURGE\r\nNats-Rollup: sub\r\n\r\n',
    'NATS/1.0\r\nKV-Operation:DEL\r\n\r\n', // no space after the colon
    'NATS/1.0\r\nKV-Operation:   DEL  \t\r\n\r\n',
    'NATS/1.0\r\nKV-Operation: DEL\r\nKV-Operation: PURGE\r\n\r\n', // the first one wins
    'NATS/1.0\r\nkv-operation: DEL\r\n\r\n', // another case: not the key (exact match, as nats.js' get)
    'NATS/1.0\r\nX-KV-Operation: DEL\r\n\r\n',
    'NATS/1.0\r\nX: a KV-Operation: DEL\r\n\r\n',
    'NATS/1.0\r\nKV-Operation: DEL', // no final line end
    'NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 7\r\nNats-Last-Stream: 9\r\n\r\n',
    'NATS/1.0 100 FlowControl Request\r\n\r\n',
    'NATS/1.0 404 No Messages\r\n\r\n',
    'NATS/1.0 409 Consumer Deleted\r\n\r\n',
    'NATS/1.0\r\n\r\n',
  ];
  for (const h of cases) {
    const fast = delivered(h);
    assert.notEqual(headerBlock(fast), null, 'nats.js message bytes readable in place');
    const slow = delivered(h);
    const label = JSON.stringify(h);
    assert.equal(headerStatus(fast), slow.headers?.code ?? 0, label);
    assert.equal(kvOperation(fast), slow.headers?.get('KV-Operation') ?? '', label);
  }
  // The status line is read only when there is one: a message without is answered from its bytes.
  const create = delivered(cases[1]);
  assert.equal(headerStatus(create), 0);
  assert.equal(kvOperation(create), '');
  assert.equal((create as unknown as { _headers?: unknown })._headers, undefined, 'headers not decoded');
});

test('headerStatus and kvOperation: any other message shape is asked through msg.headers', () => {
  const calls: string[] = [];
  const other = {
    get headers() {
      calls.push('headers');
      return { code: 100, get: (k: string) => (k === 'KV-Operation' ? 'PURGE' : '') };
    },
  } as unknown as Msg;
  assert.equal(headerBlock(other), null);
  assert.equal(headerStatus(other), 100);
  assert.equal(kvOperation(other), 'PURGE');
  assert.deepEqual(calls, ['headers', 'headers']);
});

test('subjectTail and replyBytes: as msg.subject and msg.reply, read in place; other shapes through them', () => {
  const reply = '$JS.ACK.KV_b.c1.1.42.7.1700000000000000000.3';
  const make = (subject: string, r?: string): Msg => {
    const data = te.encode('{}');
    const arg = { subject: te.encode(subject), reply: r === undefined ? undefined : te.encode(r), sid: 1, hdr: -1, size: data.length };
    return new MsgImpl(arg as never, data, {} as never) as unknown as Msg;
  };
  for (const subject of ['$KV.b.k', '$KV.gitcell_tasks.default.j0001.5-abcdef0123', '$KV.b.', '$KV.b.ключ.é']) {
    const from = '$KV.b.'.length;
    const tail = subjectTail(make(subject, reply), from);
    assert.equal(tail, make(subject).subject.substring(from), subject);
    assert.equal(subjectTail({ subject } as unknown as Msg, from), tail, 'any other shape: from msg.subject');
  }
  assert.deepEqual(parseAck(replyBytes(make('$KV.b.k', reply))), parseAckSubject(reply));
  assert.deepEqual(parseAck(replyBytes({ reply } as unknown as Msg)), parseAckSubject(reply));
  assert.equal(parseAck(replyBytes(make('$KV.b.k'))), undefined, 'no reply');
});
