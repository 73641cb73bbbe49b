import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadManifestsFromGit, parseManifestFile, validateManifests, formatProblem } from '../../../reconciler/index.ts';
import { PARALLEL_MIN_FILES, parallelParser } from '../../../reconciler/manifests/parse-pool.ts';
import { makeTestRepo } from '../../helpers/git-repo.ts';

const job = (name: string, image: string) => `apiVersion: gitcell.io/v1\nkind: Job\nmetadata:\n  name: ${name}\nspec:\n  type: service\n  template:\n    image: ${image}\n`;

/** files: enough for parse workers (PARALLEL_MIN_FILES + 8), some broken in every way the parser reports. */
function files(): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < PARALLEL_MIN_FILES + 8; i++) out[`jobs/f-${String(i).padStart(3, '0')}.yaml`] = `${job(`a-${i}`, 'x:1')}---\n${job(`b-${i}`, 'x:2')}`;
  out['jobs/f-003.yaml'] = `${job('bad-yaml', 'x:1')}---\nkind: Job\n  metadata: [\n`; // a YAML error in the second document
  out['jobs/f-011.yaml'] = `${job('dup', 'x:1')}---\n${job('dup2', 'x:1').replace('kind: Job', 'kind: Job\nkind: Job')}`; // duplicate key
  out['jobs/f-020.yaml'] = '- a list\n- not a mapping\n';
  out['jobs/f-021.yaml'] = job('bad-field', 'x:1').replace('type: service', 'type: service\n  replicas: many'); // a schema problem, located by file:line
  out['jobs/f-030.yaml'] = 'x: &a [*a]\n'; // an alias of itself
  return out;
}

test('parse workers: a load of many files equals parsing each file here, problems and their file:line included', async (t) => {
  const repo = await makeTestRepo();
  t.after(() => repo.remove());
  const contents = files();
  const commit = await repo.commit(contents);
  const load = await loadManifestsFromGit({ dir: repo.dir, ref: commit });
  const names = Object.keys(contents).sort();
  const serial = names.map((f) => parseManifestFile(f, new TextEncoder().encode(contents[f]!)));
  assert.equal(load.files, names.length);
  assert.deepEqual(load.objects.map((o) => [o.object, o.source]), serial.flatMap((p) => p.objects.map((o) => [o.object, o.source])));
  assert.deepEqual(load.problems, serial.flatMap((p) => p.problems));
  assert.deepEqual([...new Set(load.problems.map((p) => p.file))], ['jobs/f-003.yaml', 'jobs/f-011.yaml', 'jobs/f-020.yaml', 'jobs/f-030.yaml']);
  const { problems } = validateManifests(load);
  assert.ok(problems.map(formatProblem).some((l) => l.startsWith('jobs/f-021.yaml:7:3: Job/bad-field: spec.replicas')), problems.map(formatProblem).join('\n'));
});

test('parse workers: files a worker never got (closed before parse) are parsed on the caller\'s thread', async () => {
  const parser = parallelParser(PARALLEL_MIN_FILES * 4);
  parser.close();
  const jobs = Array.from({ length: PARALLEL_MIN_FILES * 4 }, (_, i) => ({ file: `f-${i}.yaml`, bytes: new TextEncoder().encode(job(`j-${i}`, 'x:1')) }));
  const parsed = await parser.parse(jobs);
  assert.deepEqual(parsed, jobs.map((j) => parseManifestFile(j.file, j.bytes)));
});

test('parse workers run from the sources through tsx (GITCELL_FROM_SOURCE=1, or no current build) parse the same', async (t) => {
  const before = process.env.GITCELL_FROM_SOURCE;
  process.env.GITCELL_FROM_SOURCE = '1';
  t.after(() => (before === undefined ? delete process.env.GITCELL_FROM_SOURCE : (process.env.GITCELL_FROM_SOURCE = before)));
  const jobs = Array.from({ length: PARALLEL_MIN_FILES * 2 }, (_, i) => ({ file: `f-${i}.yaml`, bytes: new TextEncoder().encode(`${job(`j-${i}`, 'x:1')}---\n${i % 7 === 0 ? 'a: [\n' : job(`k-${i}`, 'y:1')}`) }));
  const parser = parallelParser(jobs.length);
  try {
    assert.deepEqual(await parser.parse(jobs), jobs.map((j) => parseManifestFile(j.file, j.bytes)));
  } finally {
    parser.close();
  }
});
