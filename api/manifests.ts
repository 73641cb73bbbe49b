// Types of the manifests users commit to Git. They mirror the JSON Schemas in crds/ field for field;
// test/unit/crds/schema-drift.test.ts validates typed fixtures against the schemas and checks that
// every schema property has a typed counterpart, so the two cannot drift apart silently.

import type { RestartPolicy, Toleration } from './cluster.ts';
import type { Receiver } from './receiver.ts';
import type { SLO } from './slo.ts';
import type { Priority } from './priority.ts';
import type { AutoscaleSpec } from './autoscale.ts';

export type { RestartPolicy, Toleration };

/** API_VERSION is the apiVersion of every built-in gitcell kind. */
export const API_VERSION = 'gitcell.io/v1' as const;

/** BUILTIN_KINDS lists the kinds gitcell knows without a CustomResourceDefinition. */
export const BUILTIN_KINDS = ['Job', 'DaemonSet', 'CronJob', 'Secret', 'Service', 'Receiver', 'SLO', 'CustomResourceDefinition'] as const;

/** BuiltinKind is one of BUILTIN_KINDS. */
export type BuiltinKind = (typeof BUILTIN_KINDS)[number];

/** isBuiltinKind tells whether `kind` is one of BUILTIN_KINDS. */
export function isBuiltinKind(kind: unknown): kind is BuiltinKind {
  return typeof kind === 'string' && (BUILTIN_KINDS as readonly string[]).includes(kind);
}

/**
 * NAME_PATTERN is what metadata.name and metadata.namespace must match: a DNS label (RFC 1123),
 * at most NAME_MAX_LENGTH characters. No dots, because names become NATS KV key tokens.
 */
export const NAME_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** NAME_MAX_LENGTH is the longest allowed metadata.name / metadata.namespace. */
export const NAME_MAX_LENGTH = 63;

/** DEFAULT_NAMESPACE is the namespace of an object whose metadata has none. */
export const DEFAULT_NAMESPACE = 'default';

/** isValidName tells whether `s` is usable as a name or namespace (see NAME_PATTERN). */
export function isValidName(s: unknown): s is string {
  return typeof s === 'string' && s.length <= NAME_MAX_LENGTH && NAME_PATTERN.test(s);
}

/** ObjectMeta is the identity of a manifest: kind + namespace + name is unique in a repository. */
export interface ObjectMeta {
  /** name is a DNS label (NAME_PATTERN), unique per kind and namespace. */
  name: string;
  /** namespace is a DNS label; DEFAULT_NAMESPACE when absent. */
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** Quantity is a resource amount: cpu as "500m", "1.5", 2; memory as "256Mi", "1G", 1048576. See api/quantity.ts. */
export type Quantity = string | number;

/** ResourceList names amounts of the two resources gitcell schedules. */
export interface ResourceList {
  cpu?: Quantity;
  memory?: Quantity;
}

/** ResourceRequirements: requests are what the scheduler reserves, limits what the runtime enforces (limits >= requests). */
export interface ResourceRequirements {
  requests?: ResourceList;
  limits?: ResourceList;
}

/** Capability is a Linux capability name without the CAP_ prefix, e.g. "NET_BIND_SERVICE". */
export type Capability = string;

/**
 * SecurityContext is Kubernetes' container securityContext, within what gitcell allows: `add` only
 * from Docker's default capability set (crds/common.schema.json lists it; SYS_ADMIN is refused).
 */
export interface SecurityContext {
  /** runAsUser is the process uid, over the image's USER and the template's `user`. */
  runAsUser?: number;
  /** runAsGroup is the process's primary gid. */
  runAsGroup?: number;
  /** runAsNonRoot refuses to start the task when its process would run as uid 0. */
  runAsNonRoot?: boolean;
  /** readOnlyRootFilesystem mounts the image's file system read-only. */
  readOnlyRootFilesystem?: boolean;
  capabilities?: { drop?: Capability[]; add?: Capability[] };
}

/** SecretKeySelector points at one key of a Secret in the same namespace. */
export interface SecretKeySelector {
  name: string;
  key: string;
}

/** EnvVar is one environment variable: a literal `value` or a `valueFrom.secretKeyRef`, not both. */
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef: SecretKeySelector };
}

/** ContainerPort is a port the task listens on; `hostPort` publishes it on the node. */
export interface ContainerPort {
  name?: string;
  containerPort: number;
  hostPort?: number;
  protocol?: 'TCP' | 'UDP';
}

/** HTTPHeader is one extra header of an HTTP probe. */
export interface HTTPHeader {
  name: string;
  value: string;
}

/** HTTPGetAction probes with GET http(s)://host:port/path; 200..399 is success (as in Kubernetes). */
export interface HTTPGetAction {
  path?: string;
  /** port is a number or the name of one of the template's ports. */
  port: number | string;
  host?: string;
  scheme?: 'HTTP' | 'HTTPS';
  httpHeaders?: HTTPHeader[];
}

/** TCPSocketAction probes by opening a TCP connection. */
export interface TCPSocketAction {
  port: number | string;
  host?: string;
}

/** ExecAction probes by running a command inside the task; exit 0 is success. */
export interface ExecAction {
  command: string[];
}

/** Probe has Kubernetes' shape: exactly one of httpGet, tcpSocket, exec, plus timing. */
export interface Probe {
  httpGet?: HTTPGetAction;
  tcpSocket?: TCPSocketAction;
  exec?: ExecAction;
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
}

/** KeyToPath picks one Secret key and the file name it is written to. */
export interface KeyToPath {
  key: string;
  path: string;
}

/** ImagePullPolicy says when a node pulls a task's image (Kubernetes' values and meaning). */
export type ImagePullPolicy = 'Always' | 'IfNotPresent' | 'Never';

/** PULL_SECRET_KEYS are the keys a pull Secret may hold its docker config.json under (Kubernetes' first). */
export const PULL_SECRET_KEYS = ['.dockerconfigjson', 'config.json'] as const;

/** LocalObjectReference names an object in the same namespace. */
export interface LocalObjectReference {
  name: string;
}

/** SecretMountSpec writes a Secret's keys as files under `mountPath` inside the task (read-only). */
export interface SecretMountSpec {
  /** secretName is a Secret in the same namespace. */
  secretName: string;
  mountPath: string;
  /** items selects keys; all keys when absent. */
  items?: KeyToPath[];
  /** defaultMode is the file mode, e.g. 0o400 (256). */
  defaultMode?: number;
}

/** TaskTemplateSpec is the container template of Job, DaemonSet and CronJob as written in Git, one container per task (api/cluster.ts's TaskTemplate is its resolved form). */
export interface TaskTemplateSpec {
  /** labels are attached to every task made from this template (grouping, selection). */
  labels?: Record<string, string>;
  image: string;
  /** imagePullPolicy: when the node pulls (default Always for `:latest` or no tag, else IfNotPresent). */
  imagePullPolicy?: ImagePullPolicy;
  /** imagePullSecrets name Secrets (same namespace) with registry credentials in docker config.json format. */
  imagePullSecrets?: LocalObjectReference[];
  /** command replaces the image's entrypoint. */
  command?: string[];
  /** args replace the image's cmd. */
  args?: string[];
  env?: EnvVar[];
  workingDir?: string;
  /** user is "uid", "uid:gid" or a numeric uid. */
  user?: string | number;
  resources?: ResourceRequirements;
  securityContext?: SecurityContext;
  ports?: ContainerPort[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  secretMounts?: SecretMountSpec[];
  nodeSelector?: Record<string, string>;
  tolerations?: Toleration[];
  restartPolicy?: RestartPolicy;
  terminationGracePeriodSeconds?: number;
}

/** IntOrPercent is an absolute count or a percentage of replicas ("25%"). */
export type IntOrPercent = number | string;

/** RollingStrategy bounds a rollout: how many tasks may be down or extra at once, and how long it may stall. */
export interface RollingStrategy {
  type?: 'Rolling';
  maxUnavailable?: IntOrPercent;
  maxSurge?: IntOrPercent;
  progressDeadlineSeconds?: number;
}

/** JobType: a service runs forever and is restarted; a batch runs to completion. */
export type JobType = 'service' | 'batch';

/** BatchFields are the run-to-completion controls of a batch Job (and of a CronJob's job template). */
export interface BatchFields {
  /** completions is how many tasks must succeed; default 1. */
  completions?: number;
  /** parallelism is how many tasks run at once; default 1. */
  parallelism?: number;
  /** backoffLimit is how many failed tasks are retried before the Job fails; default 6. */
  backoffLimit?: number;
  /** activeDeadlineSeconds bounds the Job's whole run. */
  activeDeadlineSeconds?: number;
}

/** JobSpec is Borg's job: `replicas` tasks made from one template. Batch fields only with type batch. */
export interface JobSpec extends BatchFields {
  owner?: string;
  type: JobType;
  /** replicas is the number of tasks of a service Job; default 1. */
  replicas?: number;
  priority?: Priority;
  template: TaskTemplateSpec;
  strategy?: RollingStrategy;
  /** autoscale (service only): the autoscaler owns the live count within these bounds; `replicas` is the count to start from and to return to once the block is removed. */
  autoscale?: AutoscaleSpec;
}

/** DaemonSetSpec runs its template once on every eligible node (nodeSelector, tolerations). */
export interface DaemonSetSpec {
  owner?: string;
  priority?: Priority;
  template: TaskTemplateSpec;
  strategy?: Omit<RollingStrategy, 'maxSurge'>;
}

/** ConcurrencyPolicy decides what a CronJob does when the previous run is still going. */
export type ConcurrencyPolicy = 'Allow' | 'Forbid' | 'Replace';

/** CronJobTemplate is the batch Job a CronJob creates at each tick. */
export interface CronJobTemplate extends BatchFields {
  owner?: string;
  priority?: Priority;
  template: TaskTemplateSpec;
}

/** CronJobSpec makes a batch Job from `jobTemplate` on every tick of `schedule` (5- or 6-field cron). */
export interface CronJobSpec {
  schedule: string;
  /** timeZone is an IANA zone name; UTC when absent. */
  timeZone?: string;
  concurrencyPolicy?: ConcurrencyPolicy;
  suspend?: boolean;
  startingDeadlineSeconds?: number;
  successfulJobsHistoryLimit?: number;
  failedJobsHistoryLimit?: number;
  jobTemplate: CronJobTemplate;
}

/**
 * SecretSpec holds values sealed to the cluster key (like Bitnami SealedSecrets): `encryptedData`
 * maps each key to base64 ciphertext. `data` (base64) and `stringData` (text) are plaintext and are
 * rejected unless the object carries ALLOW_PLAINTEXT_ANNOTATION="true" AND the validator runs with
 * allowPlaintextSecrets (dev only).
 */
export interface SecretSpec {
  type?: string;
  encryptedData?: Record<string, string>;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

/** ALLOW_PLAINTEXT_ANNOTATION marks a Secret whose plaintext values are accepted in dev mode. */
export const ALLOW_PLAINTEXT_ANNOTATION = 'gitcell.io/allow-plaintext';

/** CRDNames names a user kind. */
export interface CRDNames {
  /** kind is the PascalCase kind of the objects, e.g. "Database". */
  kind: string;
  /** plural is a DNS label, e.g. "databases"; it is also the CRD's metadata.name. */
  plural: string;
  singular?: string;
  shortNames?: string[];
}

/** CRDVersion is one served version of a user kind with its OpenAPI v3 (JSON Schema) of the whole object. */
export interface CRDVersion {
  name: string;
  served?: boolean;
  storage?: boolean;
  schema: { openAPIV3Schema: Record<string, unknown> };
}

/** CustomResourceDefinitionSpec defines a user kind; its objects use apiVersion `${group}/${version}`. */
export interface CustomResourceDefinitionSpec {
  group: string;
  names: CRDNames;
  versions: CRDVersion[];
}

/** ServiceType: ClusterIP (a virtual IP inside the cluster) or NodePort (also a port on every node). */
export type ServiceType = 'ClusterIP' | 'NodePort';

/** HEADLESS_CLUSTER_IP as `spec.clusterIP` makes a headless service: no virtual IP, DNS answers with the task IPs. */
export const HEADLESS_CLUSTER_IP = 'None';

/** ServicePortSpec is one named port of a Service: `port` on the virtual IP to `targetPort` on each task. */
export interface ServicePortSpec {
  /** name is a port name (lowercase, at most 15 characters), unique within the Service. */
  name: string;
  /** protocol is TCP unless set. */
  protocol?: 'TCP' | 'UDP';
  port: number;
  /** targetPort is a number or the name of a port of the task's template; `port` when absent. */
  targetPort?: number | string;
  /** nodePort (30000-32767, type NodePort only) is the port on every node; allocated when absent. */
  nodePort?: number;
}

/**
 * ServiceSpec puts a stable virtual IP and the DNS name `<name>.<namespace>.svc.cluster.local` in
 * front of the ready tasks whose labels carry every `key: value` of `selector` (same namespace).
 */
export interface ServiceSpec {
  selector: Record<string, string>;
  type?: ServiceType;
  /** clusterIP pins the virtual IP (inside the service CIDR), or is HEADLESS_CLUSTER_IP; allocated when absent. */
  clusterIP?: string;
  ports: ServicePortSpec[];
}

/** Manifest is the common envelope of every object. */
export interface Manifest<K extends string = string, S = unknown> {
  apiVersion: string;
  kind: K;
  metadata: ObjectMeta;
  spec: S;
}

/** Job is a Manifest of kind Job. */
export type Job = Manifest<'Job', JobSpec> & { apiVersion: typeof API_VERSION };
/** DaemonSet is a Manifest of kind DaemonSet. */
export type DaemonSet = Manifest<'DaemonSet', DaemonSetSpec> & { apiVersion: typeof API_VERSION };
/** CronJob is a Manifest of kind CronJob. */
export type CronJob = Manifest<'CronJob', CronJobSpec> & { apiVersion: typeof API_VERSION };
/** Secret is a Manifest of kind Secret. */
export type Secret = Manifest<'Secret', SecretSpec> & { apiVersion: typeof API_VERSION };
/** Service is a Manifest of kind Service. */
export type Service = Manifest<'Service', ServiceSpec> & { apiVersion: typeof API_VERSION };
/** CustomResourceDefinition is a Manifest of kind CustomResourceDefinition. */
export type CustomResourceDefinition = Manifest<'CustomResourceDefinition', CustomResourceDefinitionSpec> & {
  apiVersion: typeof API_VERSION;
};

/** CustomObject is an object of a user kind; its shape beyond the envelope is its CRD's business. */
export interface CustomObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

/** BuiltinObject is any object of a built-in kind. */
export type BuiltinObject = Job | DaemonSet | CronJob | Secret | Service | Receiver | SLO | CustomResourceDefinition;

/** AnyObject is any object gitcell accepts. */
export type AnyObject = BuiltinObject | CustomObject;

/** objectKey is the unique identity of an object: "kind/namespace/name" (each token free of dots and slashes). */
export function objectKey(o: { kind: string; metadata: { name: string; namespace?: string } }): string {
  return `${o.kind}/${o.metadata.namespace ?? DEFAULT_NAMESPACE}/${o.metadata.name}`;
}
