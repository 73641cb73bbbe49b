// The default replica count every component derives from the server it reaches (store/replicas.ts),
// and the --replicas flag's parser; the placement tags that spread R1 streams over servers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseReplicas, placementOf, spreadTag, suggestReplicas } from '../../../store/index.ts';

test('suggestReplicas: R3 in a cluster of 3 or more servers, R1 otherwise', () => {
  const cases: [string, Parameters<typeof suggestReplicas>[0], number, number][] = [
    ['no INFO yet', undefined, 1, 1],
    ['a single server (no cluster name)', {}, 1, 1],
    ['a single server, even given 3 URLs of it', { connect_urls: ['a:1'] }, 3, 1],
    ['a cluster of 3 advertising its peers', { cluster: 'c', connect_urls: ['a:1', 'b:2', 'c:3'] }, 1, 3],
    ['a cluster of 5: still R3 (R5 only when asked)', { cluster: 'c', connect_urls: ['a:1', 'b:2', 'c:3', 'd:4', 'e:5'] }, 1, 3],
    ['a cluster of 2 servers: R3 cannot be placed', { cluster: 'c', connect_urls: ['a:1', 'b:2'] }, 2, 1],
    ['a cluster that does not advertise (no_advertise), 3 URLs given', { cluster: 'c' }, 3, 3],
    ['a cluster that does not advertise, 1 URL given', { cluster: 'c' }, 1, 1],
    ['duplicate advertised URLs count once', { cluster: 'c', connect_urls: ['a:1', 'a:1', 'b:2'] }, 1, 1],
  ];
  for (const [name, info, given, want] of cases) assert.equal(suggestReplicas(info, given), want, name);
});

test('parseReplicas accepts 1..5 and names the flag otherwise', () => {
  assert.equal(parseReplicas('1'), 1);
  assert.equal(parseReplicas('3'), 3);
  assert.equal(parseReplicas('5'), 5);
  for (const bad of ['0', '6', '2.5', '-1', 'three', '', '3x']) {
    assert.throws(() => parseReplicas(bad), (err: Error & { code?: string }) => err.code === 'E_USAGE' && /--replicas/.test(err.message), bad);
  }
});

test('spreadTag: round-robin over the tags for R1, nothing for replicated streams or without tags; placementOf', () => {
  const tags = ['a', 'b', 'c'];
  assert.deepEqual([0, 1, 2, 3, 12].map((i) => spreadTag(i, tags, 1)), [['a'], ['b'], ['c'], ['a'], ['a']]);
  assert.deepEqual(spreadTag(4, tags, undefined), ['b'], 'no count: created R1');
  assert.equal(spreadTag(0, tags, 3), undefined);
  assert.equal(spreadTag(0, [], 1), undefined);
  assert.equal(spreadTag(0, undefined, 1), undefined);
  assert.deepEqual(placementOf(['a']), { placement: { cluster: '', tags: ['a'] } });
  assert.deepEqual(placementOf(undefined), {});
});
