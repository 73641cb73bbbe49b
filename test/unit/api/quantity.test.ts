import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCpu, parseMemory, formatCpu, formatMemory, QuantityError, QuantityErrorCode } from '../../../api/index.ts';

const Ki = 1024;
const Mi = 1024 ** 2;
const Gi = 1024 ** 3;

test('parseCpu: valid quantities in millicores', () => {
  const cases: Array<[string | number, number]> = [
    ['500m', 500],
    ['1', 1000],
    ['2', 2000],
    [2, 2000],
    ['1.5', 1500],
    [1.5, 1500],
    [0.5, 500],
    ['0.1', 100], // 0.1 is not exact in binary floating point; exact decimal arithmetic gives 100
    [0.1, 100],
    ['.25', 250],
    ['5.', 5000],
    ['0', 0],
    ['0m', 0],
    ['-0', 0], // negative zero is still zero
    ['+1', 1000],
    ['1000m', 1000],
    ['1k', 1_000_000], // 1000 cores
    ['1e3', 1_000_000],
    ['1E-3', 1], // 0.001 cores = 1m
    ['100000u', 100], // 0.1 cores
    ['1000000n', 1], // 0.001 cores
    ['1Ki', 1024 * 1000], // binary suffix on cpu is legal in Kubernetes: 1024 cores
    ['0.0005k', 500], // 0.5 cores
    ['007', 7000],
  ];
  for (const [input, want] of cases) assert.equal(parseCpu(input), want, `parseCpu(${JSON.stringify(input)})`);
});

test('parseMemory: valid quantities in bytes', () => {
  const cases: Array<[string | number, number]> = [
    ['256Mi', 256 * Mi],
    ['1Gi', Gi],
    ['1.5Gi', 1.5 * Gi], // 1610612736
    ['0.5Ki', 512],
    ['1G', 1e9],
    ['1M', 1e6],
    ['1k', 1000],
    ['1e3', 1000],
    ['1E3', 1000],
    ['1e+3', 1000],
    ['128974848', 128974848],
    [128974848, 128974848],
    ['129e6', 129e6],
    ['123Mi', 123 * Mi],
    ['1000m', 1], // 1000 milli-bytes = 1 byte
    ['1Ti', 1024 ** 4],
    ['1Pi', 1024 ** 5],
    ['4Pi', 4 * 1024 ** 5],
    ['0', 0],
    ['2Ki', 2 * Ki],
    [1e15, 1e15],
  ];
  for (const [input, want] of cases) assert.equal(parseMemory(input), want, `parseMemory(${JSON.stringify(input)})`);
});

function assertQuantityError(fn: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof QuantityError, `expected QuantityError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    return true;
  });
}

test('quantity syntax errors name the input and give an example', () => {
  const bad: unknown[] = ['', ' ', '1 Gi', ' 1Gi', '1Gi ', '1gi', '1GB', 'Mi', 'm', '.', '-', '1..5', '1.5.5', '1e', '1e1.5', '1ee3', 'abc', '0x10', '1_000', '½', '1Mi5', '١', 'NaN', 'Infinity'];
  for (const input of bad) {
    assertQuantityError(() => parseMemory(input), QuantityErrorCode.syntax, /is not a memory quantity.*256Mi/);
  }
  assertQuantityError(() => parseCpu('fast'), QuantityErrorCode.syntax, /"fast" is not a cpu quantity \(expected e\.g\. "500m"/);
  for (const input of [null, undefined, true, {}, [], 1n]) {
    assertQuantityError(() => parseCpu(input), QuantityErrorCode.syntax, /must be a string or a number/);
  }
  for (const input of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
    assertQuantityError(() => parseCpu(input), QuantityErrorCode.syntax, /not a finite number/);
  }
  assertQuantityError(() => parseMemory('1'.repeat(65)), QuantityErrorCode.syntax, /longer than 64 characters/);
});

test('negative quantities are rejected', () => {
  assertQuantityError(() => parseCpu('-1'), QuantityErrorCode.negative, /cpu quantity "-1" is negative/);
  assertQuantityError(() => parseMemory('-1Mi'), QuantityErrorCode.negative, /negative/);
  assertQuantityError(() => parseMemory(-5), QuantityErrorCode.negative, /negative/);
});

test('quantities finer than the base unit are rejected, not rounded', () => {
  assertQuantityError(() => parseCpu('0.5m'), QuantityErrorCode.precision, /finer than 1 millicore/);
  assertQuantityError(() => parseCpu('0.0001'), QuantityErrorCode.precision, /finer than 1 millicore/);
  assertQuantityError(() => parseCpu('1n'), QuantityErrorCode.precision, /millicore/);
  assertQuantityError(() => parseMemory('0.5'), QuantityErrorCode.precision, /finer than 1 byte/);
  assertQuantityError(() => parseMemory('1m'), QuantityErrorCode.precision, /byte/);
  assertQuantityError(() => parseMemory('0.3Ki'), QuantityErrorCode.precision, /byte/); // 307.2 bytes
  assertQuantityError(() => parseMemory('1e-99'), QuantityErrorCode.precision, /byte/);
  assert.equal(parseMemory('0e-99'), 0); // zero is exact at any precision
});

test('quantities beyond Number.MAX_SAFE_INTEGER are rejected', () => {
  assertQuantityError(() => parseMemory('8Ei'), QuantityErrorCode.range, /too large/); // 2^63
  assertQuantityError(() => parseMemory('1e999999999'), QuantityErrorCode.range, /too large/);
  assertQuantityError(() => parseCpu('1E'), QuantityErrorCode.range, /too large/); // 1e18 cores = 1e21 m
  assertQuantityError(() => parseMemory(1e300), QuantityErrorCode.range, /too large/);
  assert.equal(parseMemory(String(Number.MAX_SAFE_INTEGER)), Number.MAX_SAFE_INTEGER);
  assertQuantityError(() => parseMemory(String(Number.MAX_SAFE_INTEGER + 1)), QuantityErrorCode.range, /too large/);
});

test('QuantityError carries input and resource', () => {
  try {
    parseCpu('lots');
    assert.fail('expected a throw');
  } catch (err) {
    assert.ok(err instanceof QuantityError);
    assert.deepEqual(err.data, { input: 'lots', resource: 'cpu' });
  }
});

test('formatCpu and formatMemory round-trip through the parsers', () => {
  assert.equal(formatCpu(500), '500m');
  assert.equal(formatCpu(2000), '2');
  assert.equal(formatCpu(0), '0');
  assert.equal(formatMemory(256 * Mi), '256Mi');
  assert.equal(formatMemory(1.5 * Gi), '1536Mi');
  assert.equal(formatMemory(1000), '1000');
  assert.equal(formatMemory(0), '0');
  for (const m of [0, 1, 499, 1000, 1500, 123456]) assert.equal(parseCpu(formatCpu(m)), m);
  for (const b of [0, 1, 1023, 1024, 256 * Mi, 3 * Gi + 7, 2 ** 52]) assert.equal(parseMemory(formatMemory(b)), b);
});
