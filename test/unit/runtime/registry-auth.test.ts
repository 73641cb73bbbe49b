import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChallenge, tokenRequestUrl, basicAuthorization } from '../../../runtime/registry/index.ts';

test('parseChallenge reads Bearer and Basic challenges', () => {
  assert.deepEqual(parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"'), {
    scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' },
  });
  assert.deepEqual(parseChallenge('Basic realm="Registry Realm"'), { scheme: 'basic', params: { realm: 'Registry Realm' } });
  assert.deepEqual(parseChallenge('bearer realm=http://x/t, service=s'), { scheme: 'bearer', params: { realm: 'http://x/t', service: 's' } });
  assert.deepEqual(parseChallenge('Bearer realm="a\\"b"'), { scheme: 'bearer', params: { realm: 'a"b' } });
  assert.equal(parseChallenge(''), undefined);
  assert.equal(parseChallenge(null), undefined);
});

test('tokenRequestUrl prefers the challenge scope and keeps the realm query', () => {
  const withScope = tokenRequestUrl({ scheme: 'bearer', params: { realm: 'http://127.0.0.1:1/token?x=1', service: 'svc', scope: 'repository:a:pull' } }, 'repository:b:push');
  assert.equal(withScope.searchParams.get('x'), '1');
  assert.equal(withScope.searchParams.get('service'), 'svc');
  assert.deepEqual(withScope.searchParams.getAll('scope'), ['repository:a:pull']);
  const mine = tokenRequestUrl({ scheme: 'bearer', params: { realm: 'http://127.0.0.1:1/token' } }, 'repository:b:pull,push');
  assert.deepEqual(mine.searchParams.getAll('scope'), ['repository:b:pull,push']);
  assert.throws(() => tokenRequestUrl({ scheme: 'bearer', params: {} }, undefined));
  assert.equal(basicAuthorization({ username: 'a', password: 'b:c' }), `Basic ${Buffer.from('a:b:c').toString('base64')}`);
});
