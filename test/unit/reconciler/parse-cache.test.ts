import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadManifestsFromGit, type ParsedFile } from '../../../reconciler/index.ts';
import { makeTestRepo } from '../../helpers/git-repo.ts';

const job = (name: string, image: string) => `apiVersion: gitcell.io/v1\nkind: Job\nmetadata:\n  name: ${name}\nspec:\n  type: service\n  template:\n    image: ${image}\n`;

test('parseCache: a load with the cache equals one without; only the latest revision is kept', async (t) => {
  const repo = await makeTestRepo();
  t.after(() => repo.remove());
  const c1 = await repo.commit({ 'a.yaml': job('a', 'a:1'), 'b.yaml': job('b', 'b:1'), '.gitcell.yaml': 'autoRollback: false\n' });
  const c2 = await repo.commit({ 'b.yaml': job('b', 'b:2'), 'c.yaml': job('c', 'c:1') });
  const cache = new Map<string, ParsedFile>();
  const strip = (r: Awaited<ReturnType<typeof loadManifestsFromGit>>) => ({ objects: r.objects.map((o) => [o.object, o.source]), problems: r.problems, files: r.files });
  const first = await loadManifestsFromGit({ dir: repo.dir, ref: c1, parseCache: cache });
  assert.equal(first.files, 2, '.gitcell.yaml is not a manifest');
  assert.equal(cache.size, 2);
  const cachedA = [...cache.entries()].find(([k]) => k.startsWith('a.yaml\0'))![1];
  const second = await loadManifestsFromGit({ dir: repo.dir, ref: c2, parseCache: cache });
  assert.deepEqual(strip(second), strip(await loadManifestsFromGit({ dir: repo.dir, ref: c2 })));
  // a.yaml did not change: the same parse was reused; b.yaml's old blob is gone from the cache.
  assert.equal([...cache.entries()].find(([k]) => k.startsWith('a.yaml\0'))![1], cachedA);
  assert.deepEqual([...cache.keys()].map((k) => k.split('\0')[0]).sort(), ['a.yaml', 'b.yaml', 'c.yaml']);
  const b = second.objects.find((o) => (o.object as { metadata: { name: string } }).metadata.name === 'b')!.object as { spec: { template: { image: string } } };
  assert.equal(b.spec.template.image, 'b:2');
});
