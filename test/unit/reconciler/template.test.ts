import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TaskTemplateSpec } from '../../../api/index.ts';
import { isGitcellError } from '../../../lib/index.ts';
import { canonicalJson, resolveTemplate, secretsUsedBy, withDefaultResources } from '../../../reconciler/template/index.ts';
import { parseRepoSettings } from '../../../reconciler/git/index.ts';

const base = (): TaskTemplateSpec => ({ image: 'registry.local/web:1' });

test('resolveTemplate fills Kubernetes defaults and restart policy by job type', () => {
  const svc = resolveTemplate(base(), { type: 'service' }).template;
  assert.equal(svc.restartPolicy, 'Always');
  assert.equal(svc.terminationGracePeriodSeconds, 30);
  assert.deepEqual(svc.resources, { requests: { cpuMillis: 0, memoryBytes: 0 }, limits: {} });
  assert.deepEqual(svc.env, []);
  assert.deepEqual(svc.ports, []);
  assert.deepEqual(svc.probes, {});
  assert.equal(resolveTemplate(base(), { type: 'batch' }).template.restartPolicy, 'OnFailure');
  assert.equal(resolveTemplate({ ...base(), restartPolicy: 'Never' }, { type: 'batch' }).template.restartPolicy, 'Never');
});

test('resolveTemplate parses quantities; a missing request defaults to the limit', () => {
  const t = resolveTemplate(
    { ...base(), resources: { requests: { cpu: '250m' }, limits: { cpu: 1, memory: '256Mi' } } },
    { type: 'service' },
  ).template;
  // cpu request given (250m); memory request absent -> the 256Mi limit = 268435456 bytes.
  assert.deepEqual(t.resources, { requests: { cpuMillis: 250, memoryBytes: 268435456 }, limits: { cpuMillis: 1000, memoryBytes: 268435456 } });
});

test('resolveTemplate reports a bad quantity with its field instead of crashing', () => {
  assert.throws(
    () => resolveTemplate({ ...base(), resources: { limits: { memory: '12 parsecs' } } }, { type: 'service', field: 'spec.template' }),
    (err: unknown) => isGitcellError(err, 'E_TEMPLATE_INVALID') && /spec\.template\.resources\.limits\.memory/.test((err as Error).message),
  );
});

test('resolveTemplate applies probe defaults and resolves named ports', () => {
  const t = resolveTemplate(
    {
      ...base(),
      ports: [{ name: 'http', containerPort: 8080 }],
      readinessProbe: { httpGet: { port: 'http' } },
      livenessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 5 },
    },
    { type: 'service' },
  ).template;
  assert.deepEqual(t.ports, [{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
  assert.deepEqual(t.probes.readiness, {
    httpGet: { path: '/', port: 8080, scheme: 'HTTP' },
    initialDelaySeconds: 0, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3,
  });
  assert.equal(t.probes.liveness?.periodSeconds, 5);
  assert.deepEqual(t.probes.liveness?.tcpSocket, { port: 8080 });
  assert.throws(() => resolveTemplate({ ...base(), readinessProbe: { tcpSocket: { port: 'nope' } } }, { type: 'service' }), /names no port/);
});

test('templateHash is stable across key order and changes with secret versions', () => {
  const a = resolveTemplate({ image: 'x', env: [{ name: 'A', value: '1' }], nodeSelector: { zone: 'a', disk: 'ssd' } }, { type: 'service' });
  const b = resolveTemplate({ nodeSelector: { disk: 'ssd', zone: 'a' }, env: [{ value: '1', name: 'A' }], image: 'x' }, { type: 'service' });
  assert.equal(a.templateHash, b.templateHash);
  assert.match(a.templateHash, /^[0-9a-f]{64}$/);
  const mounted: TaskTemplateSpec = { image: 'x', secretMounts: [{ secretName: 'db', mountPath: '/run/db' }], env: [{ name: 'P', valueFrom: { secretKeyRef: { name: 'api', key: 'token' } } }] };
  const v1 = resolveTemplate(mounted, { type: 'service', secretVersions: { db: 'v1', api: 'a1' } });
  const v2 = resolveTemplate(mounted, { type: 'service', secretVersions: { db: 'v2', api: 'a1' } });
  const v3 = resolveTemplate(mounted, { type: 'service', secretVersions: { db: 'v1', api: 'a2' } });
  assert.notEqual(v1.templateHash, v2.templateHash);
  assert.notEqual(v1.templateHash, v3.templateHash);
  assert.equal(v1.template.secretMounts[0]?.version, 'v1');
  assert.deepEqual(v1.template.secretEnv, [{ name: 'P', secretName: 'api', key: 'token', version: 'a1' }]);
  assert.deepEqual(v1.template.env, []);
  assert.deepEqual(secretsUsedBy(mounted), ['api', 'db']);
  // A change anywhere in the template changes the hash.
  assert.notEqual(resolveTemplate({ image: 'y' }, { type: 'service' }).templateHash, resolveTemplate({ image: 'x' }, { type: 'service' }).templateHash);
});

test('canonicalJson sorts keys, drops undefined members, keeps array order', () => {
  assert.equal(canonicalJson({ b: 1, a: [2, 1], c: undefined }), '{"a":[2,1],"b":1}');
  assert.equal(canonicalJson([undefined, null]), '[null,null]');
});

test('resolveTemplate carries task labels (Service selectors match them) without changing the hash of unlabelled templates', () => {
  const plain = resolveTemplate(base(), { type: 'service' });
  assert.equal('labels' in plain.template, false);
  assert.equal(resolveTemplate({ ...base(), labels: {} }, { type: 'service' }).templateHash, plain.templateHash);
  const labelled = resolveTemplate({ ...base(), labels: { app: 'web' } }, { type: 'service' });
  assert.deepEqual(labelled.template.labels, { app: 'web' });
  // A relabel rolls the tasks, so endpoints follow the new labels (as a Kubernetes pod template).
  assert.notEqual(labelled.templateHash, plain.templateHash);
});

test('resolveTemplate folds runAsUser/runAsGroup into user and normalises capabilities; no securityContext, no field', () => {
  const r = (securityContext: TaskTemplateSpec['securityContext'], user?: string | number) =>
    resolveTemplate({ ...base(), ...(user !== undefined ? { user } : {}), ...(securityContext ? { securityContext } : {}) }, { type: 'service' }).template;
  assert.equal('securityContext' in r(undefined), false, 'templates without one keep their shape (and hash)');
  assert.deepEqual(r({ runAsUser: 1000, runAsGroup: 2000, runAsNonRoot: true }, '5:5'), { ...r(undefined), user: '1000:2000', securityContext: { runAsNonRoot: true } });
  assert.equal(r({ runAsGroup: 7 }, 1000).user, '1000:7', 'a known uid takes the group');
  assert.deepEqual(r({ runAsGroup: 7 }).securityContext, { runAsGroup: 7 }, 'no uid known before the image: the runtime applies the group');
  assert.deepEqual(r({ readOnlyRootFilesystem: true, capabilities: { drop: ['all'], add: ['NET_BIND_SERVICE', 'CAP_KILL', 'KILL'] } }).securityContext,
    { readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'], add: ['KILL', 'NET_BIND_SERVICE'] } });
});

test('withDefaultResources fills only what the template leaves out, like a LimitRange default', () => {
  const def = { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '1', memory: '256Mi' } };
  const t = (resources?: TaskTemplateSpec['resources']): TaskTemplateSpec => ({ ...base(), ...(resources ? { resources } : {}) });
  assert.deepEqual(withDefaultResources(t(), def).resources, def, 'nothing given: both defaults');
  // a limit alone keeps meaning request = limit (no default request), the other resource is defaulted
  assert.deepEqual(withDefaultResources(t({ limits: { memory: '1Gi' } }), def).resources, { requests: { cpu: '100m' }, limits: { memory: '1Gi', cpu: '1' } });
  // a request above the default limit raises the limit to the request (a valid manifest stays valid)
  assert.deepEqual(withDefaultResources(t({ requests: { cpu: 2 } }), def).resources, { requests: { cpu: 2, memory: '64Mi' }, limits: { cpu: 2, memory: '256Mi' } });
  const full = t({ requests: { cpu: '1m', memory: '1Mi' }, limits: { cpu: '2m', memory: '2Mi' } });
  assert.equal(withDefaultResources(full, def), full, 'fully specified: the same object');
  assert.equal(withDefaultResources(t(), {}).resources, undefined, 'no defaults: unchanged');
  // after defaults, resolution sees limits: the task is bounded
  const resolved = resolveTemplate(withDefaultResources(t(), def), { type: 'service' }).template.resources;
  assert.deepEqual(resolved, { requests: { cpuMillis: 100, memoryBytes: 64 * 2 ** 20 }, limits: { cpuMillis: 1000, memoryBytes: 256 * 2 ** 20 } });
});

test('parseRepoSettings reads defaults and refuses bad ones naming file and field', () => {
  const s = parseRepoSettings('defaults:\n  resources: { limits: { memory: 256Mi } }\n  namespaces:\n    batch: { resources: { requests: { cpu: 2 } } }\n', '.gitcell.yaml');
  assert.deepEqual(s.defaults, { resources: { limits: { memory: '256Mi' } }, namespaces: { batch: { resources: { requests: { cpu: 2 } } } } });
  const err = (text: string): string => { try { parseRepoSettings(text, '.gitcell.yaml'); return ''; } catch (e) { return (e as Error).message; } };
  assert.match(err('defaults:\n  resources: { limits: { gpu: 1 } }\n'), /field "defaults\.resources\.limits\.gpu" is unknown/);
  assert.match(err('defaults:\n  namespaces: { Bad_NS: {} }\n'), /field "defaults\.namespaces\.Bad_NS" is not a namespace name/);
  assert.match(err('defaults: 3\n'), /field "defaults" must be a mapping/);
});
