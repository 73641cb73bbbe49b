import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManifestCollector, loadManifestsFromDir, validateManifests, formatProblem, formatFieldPath, type LoadResult } from '../../../reconciler/index.ts';
import * as fx from '../../helpers/manifests.ts';

/** loadOf turns objects into a LoadResult as if each were its own JSON file. */
function loadOf(...objects: unknown[]): LoadResult {
  const c = new ManifestCollector();
  objects.forEach((o, i) => c.add(`o${i}.json`, Buffer.from(JSON.stringify(o, null, 2))));
  return c.result();
}

test('sample-repo validates clean and every kind is present', async () => {
  const load = await loadManifestsFromDir(new URL('../../../sample-repo', import.meta.url).pathname);
  const { problems, valid } = validateManifests(load);
  assert.deepEqual(problems.map(formatProblem), []);
  const kinds = valid.map((v) => v.object.kind).sort();
  assert.deepEqual(kinds, ['CronJob', 'CustomResourceDefinition', 'DaemonSet', 'Database', 'Job', 'Job', 'Job', 'SLO', 'Secret', 'Service']);
  const web = valid.find((v) => v.object.kind === 'Job' && v.object.metadata.name === 'web');
  assert.equal((web?.object.spec as { replicas: number }).replicas, 3);
  assert.equal(web?.source.file, 'jobs/web.yaml');
});

test('typed fixtures of every kind validate clean together', () => {
  const { problems, valid } = validateManifests(loadOf(fx.fullJob(), fx.batchJob(), fx.fullDaemonSet(), fx.fullCronJob(), fx.sealedSecret(), fx.pullSecret(), fx.fullCRD(), fx.database()));
  // fullJob references Secret "db" key "password" and pull Secret "regcred": the fixtures provide
  // them, but in a placeholder (not GCS1) form, which are the only expected problems.
  assert.deepEqual(problems.map((p) => `${p.kind}/${p.name} ${p.path} ${p.code}`), [
    'Secret/db spec.encryptedData.password E_SEALED_FORMAT', 'Secret/regcred spec.encryptedData[".dockerconfigjson"] E_SEALED_FORMAT',
  ]);
  assert.equal(valid.length, 6);
});

test('imagePullSecrets name an existing Secret holding a docker config.json', () => {
  const job = fx.fullJob();
  const codes = (...objs: Parameters<typeof loadOf>) => validateManifests(loadOf(...objs)).problems.filter((p) => p.code !== 'E_SEALED_FORMAT').map((p) => `${p.path} ${p.code} ${p.message}`);
  assert.deepEqual(codes(job, fx.sealedSecret()), ['spec.template.imagePullSecrets[0].name E_SECRET_NOT_FOUND Secret "regcred" does not exist (Secrets in "default": db)']);
  assert.deepEqual(codes(job, fx.sealedSecret(), fx.sealedSecret('regcred')), [
    'spec.template.imagePullSecrets[0].name E_SECRET_KEY_NOT_FOUND pull Secret "regcred" has neither ".dockerconfigjson" nor "config.json" (a docker config.json; keys: password)',
  ]);
});

test('plaintext Secrets pass only with the annotation AND allowPlaintextSecrets', () => {
  const annotated = fx.plaintextSecret();
  const bare = { ...fx.plaintextSecret(), metadata: { name: 'bare' } };
  const codes = (allow: boolean) => validateManifests(loadOf(annotated, bare), { allowPlaintextSecrets: allow }).problems.map((p) => `${p.name} ${p.path} ${p.code}`);
  assert.deepEqual(codes(false), ['dev spec.data E_PLAINTEXT_SECRET', 'dev spec.stringData E_PLAINTEXT_SECRET', 'bare spec.data E_PLAINTEXT_SECRET', 'bare spec.stringData E_PLAINTEXT_SECRET']);
  assert.deepEqual(codes(true), ['bare spec.data E_PLAINTEXT_SECRET', 'bare spec.stringData E_PLAINTEXT_SECRET']);
});

test('a CRD makes its kind known; without it the kind is unknown', () => {
  const withCrd = validateManifests(loadOf(fx.fullCRD(), fx.database()));
  assert.deepEqual(withCrd.problems, []);
  const without = validateManifests(loadOf(fx.database()));
  assert.deepEqual(without.problems.map((p) => `${p.file}:${p.line}:${p.column} ${p.path} ${p.code}`), ['o0.json:3:3 kind E_UNKNOWN_KIND']);
  const bad = validateManifests(loadOf(fx.fullCRD(), { ...fx.database(), spec: { engine: 'postgres', sizeGi: 'ten', extra: 1 } }));
  assert.deepEqual(bad.problems.map((p) => `${p.path} ${p.code} ${p.message}`), [
    'spec.sizeGi E_SCHEMA expected integer, got string "ten"',
    'spec.extra E_SCHEMA unknown field; allowed fields: engine, sizeGi',
  ]);
});

test('problems of JSON files carry the line of the field', () => {
  const job = fx.batchJob();
  (job.spec as { parallelism: unknown }).parallelism = 'two';
  const { problems } = validateManifests(loadOf(job));
  assert.equal(problems.length, 1);
  const p = problems[0]!;
  // JSON.stringify with 2 spaces: line 1 "{", 2 apiVersion, 3 kind, 4 metadata, 5 name, 6 "}", 7 spec, 8 type, 9 priority, 10 completions, 11 parallelism
  assert.equal(formatProblem(p), 'o0.json:11:5: Job/report: spec.parallelism: expected integer, got string "two"');
});

test('formatFieldPath quotes keys that are not identifiers', () => {
  assert.equal(formatFieldPath(['spec', 'template', 'ports', 0, 'containerPort']), 'spec.template.ports[0].containerPort');
  assert.equal(formatFieldPath(['metadata', 'labels', 'gitcell.io/tier']), 'metadata.labels["gitcell.io/tier"]');
  assert.equal(formatFieldPath([]), '');
});

test('securityContext: adding SYS_ADMIN, an unknown capability to drop or a negative uid is refused at its file:line', () => {
  const c = new ManifestCollector();
  c.add('jobs/priv.yaml', Buffer.from(`apiVersion: gitcell.io/v1
kind: Job
metadata:
  name: priv
spec:
  type: service
  template:
    image: localhost/busybox:latest
    securityContext:
      runAsUser: -1
      capabilities:
        drop: [ALL, NOT_A_CAP]
        add:
          - NET_BIND_SERVICE
          - SYS_ADMIN
`));
  const lines = validateManifests(c.result()).problems.map(formatProblem);
  assert.equal(lines.length, 3, lines.join('\n'));
  assert.equal(lines[0], 'jobs/priv.yaml:10:7: Job/priv: spec.template.securityContext.runAsUser: must be >= 0 (got -1)');
  assert.match(lines[1]!, /^jobs\/priv\.yaml:12:21: Job\/priv: spec\.template\.securityContext\.capabilities\.drop\[1\]: must be one of "ALL", .* \(got "NOT_A_CAP"\)$/);
  assert.equal(lines[2], 'jobs/priv.yaml:15:13: Job/priv: spec.template.securityContext.capabilities.add[1]: must be one of "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE" (got "SYS_ADMIN")');
});

test('Kubernetes kinds get a hint: Deployment → Job type service, ConfigMap, and batch/v1 on a CronJob', () => {
  const problems = validateManifests(loadOf(
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: {} },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' }, data: {} },
    { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'nightly' }, spec: { schedule: '0 3 * * *', jobTemplate: { spec: {} } } },
  )).problems;
  const at = (kind: string) => problems.filter((p) => p.kind === kind).map((p) => `${p.path} ${p.code}: ${p.message}`);
  assert.match(at('Deployment')[0]!, /^kind E_UNKNOWN_KIND: unknown kind "Deployment": a Deployment is a gitcell Job with `type: service`/);
  assert.match(at('ConfigMap')[0]!, /gitcell has no ConfigMap: put values in the template's env, or files in a Secret/);
  const cron = at('CronJob');
  assert.match(cron.find((l) => l.startsWith('apiVersion'))!, /"batch\/v1" is Kubernetes' apiVersion: gitcell's CronJob is apiVersion "gitcell.io\/v1"; .*spec\.jobTemplate\.template is the one container/);
  assert.equal(cron.filter((l) => l.startsWith('apiVersion')).length, 1, 'the hint replaces the schema\'s apiVersion message');
});
