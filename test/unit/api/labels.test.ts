import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatSelector, requirementsMatch, selectorMatches } from '../../../api/index.ts';

test('selectorMatches: every key: value present, as a map or as pairs; empty matches all', () => {
  const labels = { app: 'web', tier: 'front' };
  assert.equal(selectorMatches({ app: 'web' }, labels), true);
  assert.equal(selectorMatches([['app', 'web'], ['tier', 'front']], labels), true);
  assert.equal(selectorMatches({ app: 'db' }, labels), false);
  assert.equal(selectorMatches([['zone', 'a']], labels), false);
  assert.equal(selectorMatches({}, undefined), true);
  assert.equal(selectorMatches({ app: 'web' }, undefined), false);
  assert.equal(formatSelector({ tier: 'front', app: 'web' }), 'app=web,tier=front');
  assert.equal(formatSelector([['b', '2'], ['a', '1']]), 'a=1,b=2');
});

test('requirementsMatch: in, notin, exists, !exists', () => {
  const labels = { env: 'prod' };
  assert.equal(requirementsMatch([{ key: 'env', op: 'in', values: ['prod', 'qa'] }], labels), true);
  assert.equal(requirementsMatch([{ key: 'env', op: 'notin', values: ['prod'] }], labels), false);
  assert.equal(requirementsMatch([{ key: 'env', op: 'exists' }, { key: 'tier', op: 'notexists' }], labels), true);
  assert.equal(requirementsMatch([], {}), true);
});
