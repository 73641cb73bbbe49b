// Keeps crds/*.schema.json and api/manifests.ts from drifting apart, in both directions:
// 1. every object-shaped schema location is listed below with the keys of its TypeScript type;
//    `satisfies Record<keyof Required<T>, true>` makes tsc fail when a type gains or loses a field
//    the list does not have, and the test fails when the schema's properties differ from the list;
// 2. typed fixtures (test/helpers/manifests.ts) that use every field must pass the schemas.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { BUILTIN_SCHEMAS, COMMON_SCHEMA, GENERATED_META_SCHEMA, GENERATED_VALIDATORS, builtinValidators, compileBuiltinSchemas, createUserSchemaCompiler, generateMetaSchemaSource, generateValidatorsSource, type JsonSchema } from '../../../crds/index.ts';
import type * as api from '../../../api/index.ts';
import * as fx from '../../helpers/manifests.ts';

type Keys<T> = Record<keyof Required<T>, true>;
type Strategy = NonNullable<api.JobSpec['strategy']>;
type DsStrategy = NonNullable<api.DaemonSetSpec['strategy']>;
type ValueFrom = NonNullable<api.EnvVar['valueFrom']>;
type HTTPGet = api.HTTPGetAction;

const envelope = { apiVersion: true, kind: true, metadata: true, spec: true } satisfies Keys<api.Job>;
const template = {
  labels: true, image: true, command: true, args: true, env: true, workingDir: true, user: true, resources: true, securityContext: true, ports: true,
  livenessProbe: true, readinessProbe: true, startupProbe: true, secretMounts: true, imagePullPolicy: true, imagePullSecrets: true, nodeSelector: true, tolerations: true,
  restartPolicy: true, terminationGracePeriodSeconds: true,
} satisfies Keys<api.TaskTemplateSpec>;
const probe = {
  httpGet: true, tcpSocket: true, exec: true, initialDelaySeconds: true, periodSeconds: true, timeoutSeconds: true, successThreshold: true, failureThreshold: true,
} satisfies Keys<api.Probe>;
const batch = { completions: true, parallelism: true, backoffLimit: true, activeDeadlineSeconds: true } satisfies Keys<api.BatchFields>;

/** Every object-shaped location of the kind schemas, "[]" for array items, with its type's keys. */
const table: Array<[api.BuiltinKind, string, Record<string, true>]> = [
  ['Job', '', envelope],
  ['Job', 'metadata', { name: true, namespace: true, labels: true, annotations: true } satisfies Keys<api.ObjectMeta>],
  ['Job', 'spec', { owner: true, type: true, replicas: true, priority: true, template: true, strategy: true, autoscale: true, ...batch } satisfies Keys<api.JobSpec>],
  ['Job', 'spec.autoscale', { minReplicas: true, maxReplicas: true, metrics: true, behavior: true } satisfies Keys<api.AutoscaleSpec>],
  ['Job', 'spec.autoscale.metrics[]', { resource: true, targetAverageUtilization: true, prometheus: true, targetAverageValue: true } satisfies Keys<api.AutoscaleMetric>],
  ['Job', 'spec.autoscale.metrics[].prometheus', { query: true, taskLabel: true } satisfies Keys<api.PrometheusMetricSource>],
  ['Job', 'spec.autoscale.behavior', { scaleUp: true, scaleDown: true } satisfies Keys<api.AutoscaleBehavior>],
  ['Job', 'spec.autoscale.behavior.scaleUp', { stabilizationWindowSeconds: true, selectPolicy: true, policies: true } satisfies Keys<api.ScalingRules>],
  ['Job', 'spec.autoscale.behavior.scaleUp.policies[]', { type: true, value: true, periodSeconds: true } satisfies Keys<api.ScalingPolicy>],
  ['Job', 'spec.autoscale.behavior.scaleDown', { stabilizationWindowSeconds: true, selectPolicy: true, policies: true } satisfies Keys<api.ScalingRules>],
  ['Job', 'spec.autoscale.behavior.scaleDown.policies[]', { type: true, value: true, periodSeconds: true } satisfies Keys<api.ScalingPolicy>],
  ['Job', 'spec.strategy', { type: true, maxUnavailable: true, maxSurge: true, progressDeadlineSeconds: true } satisfies Keys<Strategy>],
  ['Job', 'spec.template', template],
  ['Job', 'spec.template.resources', { requests: true, limits: true } satisfies Keys<api.ResourceRequirements>],
  ['Job', 'spec.template.resources.requests', { cpu: true, memory: true } satisfies Keys<api.ResourceList>],
  ['Job', 'spec.template.resources.limits', { cpu: true, memory: true } satisfies Keys<api.ResourceList>],
  ['Job', 'spec.template.securityContext', { runAsUser: true, runAsGroup: true, runAsNonRoot: true, readOnlyRootFilesystem: true, capabilities: true } satisfies Keys<api.SecurityContext>],
  ['Job', 'spec.template.securityContext.capabilities', { drop: true, add: true } satisfies Keys<NonNullable<api.SecurityContext['capabilities']>>],
  ['Job', 'spec.template.env[]', { name: true, value: true, valueFrom: true } satisfies Keys<api.EnvVar>],
  ['Job', 'spec.template.env[].valueFrom', { secretKeyRef: true } satisfies Keys<ValueFrom>],
  ['Job', 'spec.template.env[].valueFrom.secretKeyRef', { name: true, key: true } satisfies Keys<api.SecretKeySelector>],
  ['Job', 'spec.template.ports[]', { name: true, containerPort: true, hostPort: true, protocol: true } satisfies Keys<api.ContainerPort>],
  ['Job', 'spec.template.livenessProbe', probe],
  ['Job', 'spec.template.readinessProbe', probe],
  ['Job', 'spec.template.startupProbe', probe],
  ['Job', 'spec.template.livenessProbe.httpGet', { path: true, port: true, host: true, scheme: true, httpHeaders: true } satisfies Keys<HTTPGet>],
  ['Job', 'spec.template.livenessProbe.httpGet.httpHeaders[]', { name: true, value: true } satisfies Keys<api.HTTPHeader>],
  ['Job', 'spec.template.livenessProbe.tcpSocket', { port: true, host: true } satisfies Keys<api.TCPSocketAction>],
  ['Job', 'spec.template.livenessProbe.exec', { command: true } satisfies Keys<api.ExecAction>],
  ['Job', 'spec.template.secretMounts[]', { secretName: true, mountPath: true, items: true, defaultMode: true } satisfies Keys<api.SecretMountSpec>],
  ['Job', 'spec.template.secretMounts[].items[]', { key: true, path: true } satisfies Keys<api.KeyToPath>],
  ['Job', 'spec.template.imagePullSecrets[]', { name: true } satisfies Keys<api.LocalObjectReference>],
  ['Job', 'spec.template.tolerations[]', { key: true, operator: true, value: true, effect: true } satisfies Keys<api.Toleration>],
  ['DaemonSet', '', envelope],
  ['DaemonSet', 'spec', { owner: true, priority: true, template: true, strategy: true } satisfies Keys<api.DaemonSetSpec>],
  ['DaemonSet', 'spec.strategy', { type: true, maxUnavailable: true, progressDeadlineSeconds: true } satisfies Keys<DsStrategy>],
  ['DaemonSet', 'spec.template', template],
  ['CronJob', '', envelope],
  ['CronJob', 'spec', {
    schedule: true, timeZone: true, concurrencyPolicy: true, suspend: true, startingDeadlineSeconds: true,
    successfulJobsHistoryLimit: true, failedJobsHistoryLimit: true, jobTemplate: true,
  } satisfies Keys<api.CronJobSpec>],
  ['CronJob', 'spec.jobTemplate', { owner: true, priority: true, template: true, ...batch } satisfies Keys<api.CronJobTemplate>],
  ['CronJob', 'spec.jobTemplate.template', template],
  ['Secret', '', envelope],
  ['Secret', 'spec', { type: true, encryptedData: true, data: true, stringData: true } satisfies Keys<api.SecretSpec>],
  ['Service', '', envelope],
  ['Service', 'spec', { selector: true, type: true, clusterIP: true, ports: true } satisfies Keys<api.ServiceSpec>],
  ['Service', 'spec.ports[]', { name: true, protocol: true, port: true, targetPort: true, nodePort: true } satisfies Keys<api.ServicePortSpec>],
  ['Receiver', '', envelope],
  ['Receiver', 'spec', { type: true, address: true, repository: true, secretRef: true, context: true, commitUrl: true, timeoutSeconds: true, alerts: true, slack: true, email: true } satisfies Keys<api.ReceiverSpec>],
  ['Receiver', 'spec.slack', { channel: true } satisfies Keys<api.SlackReceiver>],
  ['Receiver', 'spec.email', { to: true, from: true, smarthost: true, username: true, requireTLS: true } satisfies Keys<api.EmailReceiver>],
  ['Receiver', 'spec.secretRef', { name: true, key: true } satisfies Keys<api.ReceiverSecretRef>],
  ['SLO', '', envelope],
  ['SLO', 'spec', { job: true, objective: true, window: true, indicator: true, labels: true } satisfies Keys<api.SloSpec>],
  ['SLO', 'spec.indicator', { readiness: true, ratio: true, latency: true } satisfies Keys<api.SloIndicator>],
  ['SLO', 'spec.indicator.ratio', { errors: true, total: true } satisfies Keys<api.SloRatio>],
  ['SLO', 'spec.indicator.latency', { histogram: true, threshold: true } satisfies Keys<api.SloLatency>],
  ['CustomResourceDefinition', '', envelope],
  ['CustomResourceDefinition', 'spec', { group: true, names: true, versions: true } satisfies Keys<api.CustomResourceDefinitionSpec>],
  ['CustomResourceDefinition', 'spec.names', { kind: true, plural: true, singular: true, shortNames: true } satisfies Keys<api.CRDNames>],
  ['CustomResourceDefinition', 'spec.versions[]', { name: true, served: true, storage: true, schema: true } satisfies Keys<api.CRDVersion>],
  ['CustomResourceDefinition', 'spec.versions[].schema', { openAPIV3Schema: true } satisfies Keys<api.CRDVersion['schema']>],
];

function deref(s: JsonSchema): JsonSchema {
  let cur = s;
  for (let i = 0; i < 20 && typeof cur.$ref === 'string'; i++) {
    const ref = cur.$ref;
    const local = ref.startsWith('common.schema.json#/definitions/') ? ref.slice('common.schema.json#/definitions/'.length) : ref.startsWith('#/definitions/') ? ref.slice('#/definitions/'.length) : undefined;
    assert.ok(local, `unexpected $ref ${ref}`);
    cur = (COMMON_SCHEMA.definitions as Record<string, JsonSchema>)[local]!;
    assert.ok(cur, `dangling $ref ${ref}`);
  }
  return cur;
}

/** objectLocations lists every schema location with `properties`, as instance paths (maps of free keys are not objects with fields). */
function objectLocations(s: JsonSchema, path: string, out: Map<string, JsonSchema>, depth = 0): void {
  assert.ok(depth < 30, `schema too deep at ${path}`);
  const d = deref(s);
  if (d.properties) {
    out.set(path, d);
    for (const [k, v] of Object.entries(d.properties as Record<string, JsonSchema>)) {
      if (path === 'spec.versions[].schema' && k === 'openAPIV3Schema') continue; // user content
      objectLocations(v, path ? `${path}.${k}` : k, out, depth + 1);
    }
  }
  if (d.items) objectLocations(d.items as JsonSchema, `${path}[]`, out, depth + 1);
}

test('every object in the kind schemas has exactly the fields of its TypeScript type', () => {
  for (const kind of Object.keys(BUILTIN_SCHEMAS) as api.BuiltinKind[]) {
    const locations = new Map<string, JsonSchema>();
    objectLocations(BUILTIN_SCHEMAS[kind], '', locations);
    const listed = table.filter(([k]) => k === kind);
    for (const [path, schema] of locations) {
      // The three probes $ref one definition; its insides are listed once, under livenessProbe.
      const probePath = path.replace(/\.(readiness|startup)Probe\./, '.livenessProbe.');
      const row = listed.find(([, p]) => p === probePath);
      // Below a template and in metadata, the other kinds $ref the same definitions as Job, checked there.
      assert.ok(row || (kind !== 'Job' && isSharedWithJob(kind, path)), `${kind} ${path || '(root)'}: no row in the drift table; add one with its type`);
      if (row) assert.deepEqual(Object.keys(schema.properties as object).sort(), Object.keys(row[2]).sort(), `${kind} ${path || '(root)'}: schema and type disagree`);
    }
    for (const [, path] of listed) assert.ok(locations.has(path), `${kind} ${path}: listed but not in the schema`);
  }
});

function isSharedWithJob(kind: api.BuiltinKind, path: string): boolean {
  const tail = kind === 'CronJob' ? path.replace(/^spec\.jobTemplate\.template/, 'spec.template') : path;
  return tail.startsWith('spec.template') || tail === 'metadata';
}

test('typed fixtures that use every field pass the schemas', () => {
  const v = builtinValidators().builtin;
  for (const obj of [fx.fullJob(), fx.batchJob(), fx.fullDaemonSet(), fx.fullCronJob(), fx.sealedSecret(), fx.plaintextSecret(), fx.fullService(), fx.fullReceiver(), fx.slackReceiver(), fx.emailReceiver(), fx.fullSLO(), fx.latencySLO(), fx.fullCRD()]) {
    const ok = v[obj.kind](obj);
    assert.ok(ok, `${obj.kind}/${obj.metadata.name}: ${JSON.stringify(v[obj.kind].errors)}`);
  }
});

test('the schemas reject a field the types do not have', () => {
  const v = builtinValidators().builtin;
  const job = fx.fullJob() as unknown as { spec: Record<string, unknown> };
  job.spec.replica = 3;
  assert.equal(v.Job(job), false);
  assert.equal(v.Job.errors?.[0]?.keyword, 'additionalProperties');
});

test('crds/generated/validators.cjs is what the schemas generate (run `npm run gen:validators` after editing a schema)', () => {
  assert.equal(readFileSync(GENERATED_VALIDATORS, 'utf8'), generateValidatorsSource());
});

test('crds/generated/meta-schema.cjs is ajv\'s draft-07 meta-schema with the CRD compiler\'s options', () => {
  assert.equal(readFileSync(GENERATED_META_SCHEMA, 'utf8'), generateMetaSchemaSource());
});

test('CRD schemas: the pre-generated meta-schema refuses what ajv refuses, with ajv\'s message', () => {
  const runtime = new Ajv({ allErrors: true, verbose: true, strict: false, allowUnionTypes: true, validateFormats: false });
  const schemas: JsonSchema[] = [
    { type: 'object', properties: { spec: { type: 'object', required: ['a'], properties: { a: { type: 'integer', minimum: 1 } } } } },
    { type: 'strin', minimum: 'x' },
    { type: 'object', properties: { spec: { type: 'objectt' } } },
    { type: 'object', required: 'spec', additionalProperties: 3 },
    { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, nullable: true },
    { $schema: 'http://json-schema.org/draft-07/schema#', type: 'nope' },
  ];
  for (const schema of schemas) {
    const outcome = (f: () => unknown) => {
      try {
        f();
        return 'compiles';
      } catch (err) {
        return (err as Error).message;
      }
    };
    assert.equal(outcome(() => createUserSchemaCompiler().compile(schema)), outcome(() => runtime.compile(schema)), JSON.stringify(schema));
  }
});

test('the generated validators report exactly the errors of validators compiled at run time', () => {
  const generated = builtinValidators().builtin;
  const compiled = compileBuiltinSchemas();
  const job = fx.fullJob() as unknown as { spec: Record<string, unknown>; metadata: Record<string, unknown> };
  job.spec.replica = 3;
  job.spec.priority = 'urgent';
  job.metadata.name = 'Not A Name';
  const bad: Array<{ kind: api.BuiltinKind } & Record<string, unknown>> = [
    job as unknown as { kind: api.BuiltinKind },
    { ...fx.fullCronJob(), spec: { schedule: 5, concurrencyPolicy: 'Sometimes' } },
    { ...fx.sealedSecret(), spec: { encryptedData: { 'bad key': '!' } } },
    { kind: 'DaemonSet', apiVersion: 'gitcell.io/v2', metadata: {}, spec: [] },
  ];
  for (const obj of bad) {
    assert.equal(generated[obj.kind](obj), false);
    assert.equal(compiled[obj.kind](obj), false);
    assert.ok(generated[obj.kind].errors!.length > 0);
    assert.deepEqual(generated[obj.kind].errors, compiled[obj.kind].errors, obj.kind);
  }
});
