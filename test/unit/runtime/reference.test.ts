import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseReference } from '../../../runtime/index.ts';
import { normalizeReference, isPlainHttpRegistry } from '../../../runtime/image/index.ts';
import { isGitcellError } from '../../../lib/errors.ts';

const digest = `sha256:${'a'.repeat(64)}`;

test('references normalise like Docker, local names under localhost', () => {
  const cases: [string, string][] = [
    ['busybox', 'localhost/busybox:latest'],
    ['busybox:1.36', 'localhost/busybox:1.36'],
    ['team/web', 'localhost/team/web:latest'],
    ['localhost/web:v1', 'localhost/web:v1'],
    ['127.0.0.1:5000/web:v1', '127.0.0.1:5000/web:v1'],
    ['registry.example.com/a/b', 'registry.example.com/a/b:latest'],
    [`web@${digest}`, `localhost/web@${digest}`],
    [`127.0.0.1:5000/web:v1@${digest}`, `127.0.0.1:5000/web:v1@${digest}`],
  ];
  for (const [input, want] of cases) assert.equal(normalizeReference(input), want, input);
  assert.deepEqual(parseReference('127.0.0.1:5000/a/b:c'), { domain: '127.0.0.1:5000', path: 'a/b', tag: 'c' });
});

test('invalid references are rejected with E_REFERENCE_INVALID', () => {
  for (const bad of ['', 'UPPER', 'a:b:c', 'web:', 'web@sha256:xyz', '/web', 'web/', 'a//b', 'web:-bad', 'host:99999x/web']) {
    assert.throws(() => parseReference(bad), (e) => isGitcellError(e, 'E_REFERENCE_INVALID'), bad);
  }
});

test('loopback and localhost registries are plain HTTP, others HTTPS', () => {
  assert.ok(isPlainHttpRegistry('127.0.0.1:5000'));
  assert.ok(isPlainHttpRegistry('127.3.4.5'));
  assert.ok(isPlainHttpRegistry('localhost:8080'));
  assert.ok(isPlainHttpRegistry('[::1]:5000'));
  assert.ok(!isPlainHttpRegistry('registry.example.com'));
  assert.ok(!isPlainHttpRegistry('128.0.0.1:5000'));
  assert.ok(!isPlainHttpRegistry('127.0.0.1.example.com'));
});
