/**
 * Cluster records: what the control plane writes to the store and reads back. Manifests (api/
 * manifests.ts) are what users write in Git; these are the resolved, machine-facing forms.
 *
 * Each record has exactly one writer (see store/README.md for the bucket layout):
 *   TaskSpec    - reconciler   (bucket `tasks`,    key `<taskId>`)
 *   Binding     - scheduler    (bucket `bindings`, key `<taskId>`)
 *   TaskStatus  - node's agent (bucket `status`,   key `<node>.<taskId>`)
 *   NodeRecord  - node's agent (bucket `nodes`,    key `<node>`)
 *   NodeSpec    - admin CLI    (bucket `nodespec`, key `<node>`)
 *   ServiceRecord - reconciler (bucket `services`, key `<namespace>.<name>`)
 *   NodeSubnetRecord - reconciler (bucket `subnets`, key `<node>`; api/network.ts)
 */

/** Resources in integer units: CPU in millicores, memory in bytes. */
export interface Resources {
  cpuMillis: number;
  memoryBytes: number;
}

/** Taint on a node, as in Kubernetes: tasks without a matching toleration are kept off (or evicted). */
export interface Taint {
  key: string;
  value?: string;
  effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}

/** Toleration on a task; `operator: Exists` with no key tolerates every taint. */
export interface Toleration {
  key?: string;
  operator?: 'Equal' | 'Exists';
  value?: string;
  effect?: Taint['effect'];
}

/** Kubernetes' restart policies: services use Always, batch tasks OnFailure or Never. */
export type RestartPolicy = 'Always' | 'OnFailure' | 'Never';

/** Probe with every Kubernetes default filled in (period 10 s, timeout 1 s, thresholds 1 and 3). */
export interface ResolvedProbe {
  httpGet?: { path: string; port: number; scheme?: 'HTTP' | 'HTTPS'; headers?: { name: string; value: string }[] };
  tcpSocket?: { port: number };
  exec?: { command: string[] };
  initialDelaySeconds: number;
  periodSeconds: number;
  timeoutSeconds: number;
  successThreshold: number;
  failureThreshold: number;
}

/** A container port; `hostPort` claims the port on the node (a scheduling constraint). */
export interface TaskPort {
  name?: string;
  containerPort: number;
  hostPort?: number;
  protocol: 'TCP' | 'UDP';
}

/** A Secret mounted as files on a tmpfs inside the task. `version` is part of the template hash. */
export interface SecretMount {
  secretName: string;
  mountPath: string;
  items?: { key: string; path: string }[];
  /** File mode of the mounted files (e.g. 0o400); the agent's default when absent. */
  defaultMode?: number;
  version?: string;
}

/** SecretEnvVar is an environment variable whose value is one key of a Secret, read by the agent. */
export interface SecretEnvVar {
  name: string;
  secretName: string;
  key: string;
  /** Version of the Secret; part of the template hash so rotation restarts the task. */
  version?: string;
}

/**
 * TaskSecurityContext is a template's securityContext as the agent applies it: runAsUser (and
 * runAsGroup when a uid is known) are folded into TaskTemplate.user, so only what remains is here.
 */
export interface TaskSecurityContext {
  runAsNonRoot?: boolean;
  readOnlyRootFilesystem?: boolean;
  /** runAsGroup only when no uid is known before the image is (the runtime applies it over the image's user). */
  runAsGroup?: number;
  capabilities?: { drop: string[]; add: string[] };
}

/** TaskTemplate is a container template with quantities parsed and defaults applied. */
export interface TaskTemplate {
  /** labels of every task made from this template (Service selectors match them); absent when none. */
  labels?: Record<string, string>;
  image: string;
  /** only when the manifest sets one; the runtime defaults it (Always for :latest) */
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** Secrets with registry credentials (docker config.json); no version (unlike mounts): rotated credentials restart nothing */
  imagePullSecrets?: { secretName: string }[];
  command?: string[];
  args?: string[];
  env: { name: string; value: string }[];
  /** Variables taken from Secrets (`valueFrom.secretKeyRef` in the manifest); values never in the spec. */
  secretEnv?: SecretEnvVar[];
  workingDir?: string;
  user?: string;
  /** present only when the manifest sets one (so templates without it keep their hash) */
  securityContext?: TaskSecurityContext;
  resources: { requests: Resources; limits: Partial<Resources> };
  ports: TaskPort[];
  probes: { liveness?: ResolvedProbe; readiness?: ResolvedProbe; startup?: ResolvedProbe };
  secretMounts: SecretMount[];
  nodeSelector: Record<string, string>;
  tolerations: Toleration[];
  restartPolicy: RestartPolicy;
  terminationGracePeriodSeconds: number;
}

/** Kinds whose controllers create tasks. Tasks of a CronJob run belong to the Job it created. */
export type TaskOwnerKind = 'Job' | 'DaemonSet';

/** Spread limits of one job: at most `maxPerNode` tasks per node, `maxPerDomain` per label value. */
export interface SpreadLimit {
  maxPerNode?: number;
  maxPerDomain?: { label: string; max: number };
}

/**
 * TaskSpec is one task the reconciler wants to exist (Borg's task). Its id is stable for its life;
 * a rolling update creates new tasks with new ids and deletes the old ones.
 */
export interface TaskSpec {
  id: string;
  namespace: string;
  owner: { kind: TaskOwnerKind; name: string };
  /** `<Kind>/<namespace>/<name>`: groups a job's tasks (round-robin, spread, equivalence classes). */
  jobKey: string;
  /** Task number within its job (0-based). */
  index: number;
  /** 0..1000, see api/manifests.ts priority bands. */
  priority: number;
  type: 'service' | 'batch';
  templateHash: string;
  template: TaskTemplate;
  /** DaemonSet tasks are pinned to one node. */
  nodeName?: string;
  spread?: SpreadLimit;
  /** Generation of the owning object that produced this task. */
  generation: number;
  createdAt: string;
  /**
   * Node whose agent reported this task already running when the store was rebuilt (see
   * TaskStatus.unclaimed): the scheduler binds it back there, so the running instance is kept.
   */
  runningOn?: string;
}

/** Binding is the scheduler's decision that a task runs on a node. Deleting it unbinds (preemption). */
export interface Binding {
  taskId: string;
  node: string;
  boundAt: string;
  /** Leader term of the scheduler that wrote it: a fencing token. */
  schedulerTerm: number;
}

/** Lifecycle states an agent reports for a task. */
export type TaskState =
  | 'pending' // bound, not started yet (pulling, unpacking)
  | 'starting'
  | 'running'
  | 'succeeded' // batch task exited 0
  | 'failed' // exited non-zero and will not be restarted
  | 'backoff' // exited, waiting to restart (crash loop)
  | 'stopping'
  | 'stopped';

/** TaskStatus is what an agent observes about one task on its node. */
export interface TaskStatus {
  taskId: string;
  node: string;
  templateHash: string;
  state: TaskState;
  ready: boolean;
  restarts: number;
  exitCode?: number;
  oomKilled?: boolean;
  startedAt?: string;
  finishedAt?: string;
  ip?: string;
  containerId?: string;
  pid?: number;
  message?: string;
  usage?: Resources;
  /**
   * Set while the agent runs the task from before a store rebuild and no binding claims it yet: the
   * reconciler re-creates the task under this id and the scheduler binds it back to this node.
   */
  unclaimed?: boolean;
  updatedAt: string;
}

/**
 * TaskSlots caps how many tasks a node runs. `tasks` is the name; `pods` is what agents before it
 * wrote, still read from stored records (maxTasks reads either) and never written by new code.
 */
export interface TaskSlots {
  /** the most tasks the node runs at once */
  tasks?: number;
  /** @deprecated the old name of `tasks`, read for records written before the rename */
  pods?: number;
}

/** maxTasks is a node's task slot count, from `tasks` or the old `pods`; undefined for no limit. */
export function maxTasks(slots: TaskSlots | undefined): number | undefined {
  return slots?.tasks ?? slots?.pods;
}

/** NodeRecord is a node's registration and heartbeat, written by its own agent. */
export interface NodeRecord {
  name: string;
  labels: Record<string, string>;
  taints: Taint[];
  capacity: Resources & TaskSlots;
  /** What tasks may use: capacity minus what the system reserves. */
  allocatable: Resources & TaskSlots;
  addresses: string[];
  /** CIDR from which this node's tasks get their IPs. */
  subnet?: string;
  /** the agent's /metrics and /healthz endpoint (http://host:port), for Prometheus discovery */
  metricsUrl?: string;
  runtime: { runc: string; kernel: string; agentVersion: string };
  /** Images present on the node, for image locality scoring. */
  images: string[];
  /** The node's own public key (SPKI PEM): Secrets are re-sealed to it for this node alone. */
  sealingKey?: string;
  startedAt: string;
  /**
   * When the agent last wrote this record. Liveness is the newer of this and the node's lease (the
   * `heartbeats` bucket, renewed every heartbeat; see withLease), judged by readers with a grace
   * period, never by key expiry. Agents before the leases rewrote the record every heartbeat.
   */
  heartbeatAt: string;
  /**
   * The store incarnation this agent serves (store/incarnation.ts), set once it has re-reported its
   * tasks: after a rebuild, a record without the current one is the old agent process still talking.
   */
  storeIncarnation?: string;
  /** what the node can do right now beyond running tasks, e.g. ServicesReady (nft and DNS programmed) */
  conditions?: NodeCondition[];
}

/** NodeCondition is a Kubernetes-style node condition: a type, True/False/Unknown, and why. */
export interface NodeCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
}

/** NodeSpec is what an administrator sets on a node (cordon, drain, extra labels and taints). */
export interface NodeSpec {
  cordoned: boolean;
  draining: boolean;
  /** labels, the only source of reserved ones (`node.gitcell.io/...`, see node-trust.ts) */
  labels?: Record<string, string>;
  /** taints that apply whatever the node reports */
  taints?: Taint[];
  /** the most the node may be given, whatever it reports as allocatable */
  maxAllocatable?: Partial<Resources> & TaskSlots;
}

/** NodeSecretRef names one Secret a node needs, at the version to deliver. */
export interface NodeSecretRef {
  namespace: string;
  name: string;
  version: string;
}

/**
 * NodeSecretRecord is a Secret re-sealed for one node (bucket `secrets_<node>`, key
 * `<namespace>.<name>`, writer: the reconciler): its values open only with that node's private key.
 */
export interface NodeSecretRecord extends NodeSecretRef {
  /** Key id of the node's public key the values are sealed to. */
  nodeKeyId: string;
  values: Record<string, string>;
}

/** ClusterEvent is an entry of the events stream, like a Kubernetes event. */
export interface ClusterEvent {
  time: string;
  type: 'Normal' | 'Warning';
  reason: string;
  object: { kind: string; namespace?: string; name: string };
  message: string;
  source: string;
}

/** statusKey is the `status` bucket key of a task on a node. */
export function statusKey(node: string, taskId: string): string {
  return `${node}.${taskId}`;
}

/** jobKeyOf builds the job grouping key `<Kind>/<namespace>/<name>`. */
export function jobKeyOf(kind: TaskOwnerKind, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

/**
 * RolloutResult is the record of a failed rollout, written by the reconciler's controllers into the
 * `sync` bucket (field `failedRollout` of the source's SyncStatus and of the object's status) and
 * as a Warning event. Auto-rollback reads it and reverts `revision` (the commit that introduced the
 * template), naming the tasks and their last errors in the revert message.
 */
export interface RolloutResult {
  /** Git revision (commit) whose template failed to roll out. */
  revision: string;
  object: { kind: TaskOwnerKind; namespace: string; name: string };
  /** Generation of the object that the failed template belongs to. */
  generation: number;
  templateHash: string;
  reason: 'ProgressDeadlineExceeded' | 'CrashLoop' | 'TaskFailed';
  message: string;
  /** New-template tasks that were not ready, with what their agents last reported. */
  tasks: { id: string; node?: string; state?: TaskState; restarts?: number; lastError: string }[];
  failedAt: string;
}

/** ServicePort is a Service port as the control plane resolved it: protocol defaulted, nodePort allocated. */
export interface ServicePort {
  name: string;
  protocol: 'TCP' | 'UDP';
  /** port on the virtual IP */
  port: number;
  /** the task's port as written: a number, or a port name resolved per task (ServiceEndpoint.ports) */
  targetPort: number | string;
  /** with type NodePort: the port on every node */
  nodePort?: number;
}

/** ServiceEndpoint is one ready task behind a Service: where it runs and its port for each Service port name. */
export interface ServiceEndpoint {
  taskId: string;
  node: string;
  ip: string;
  ports: Record<string, number>;
}

/**
 * ServiceRecord is a Service as the nodes program it (bucket `services`, key `<namespace>.<name>`,
 * writer: the reconciler's endpoints controller): its virtual IP, ports and ready endpoints.
 */
export interface ServiceRecord {
  namespace: string;
  name: string;
  /** generation of the Service object this record follows */
  generation: number;
  type: 'ClusterIP' | 'NodePort';
  /** headless (clusterIP: None): no virtual IP; DNS answers with the endpoints' IPs */
  headless: boolean;
  /** the virtual IP; absent when headless or when none could be allocated (see message) */
  clusterIP?: string;
  selector: Record<string, string>;
  ports: ServicePort[];
  /** the ready tasks, by task id: what nodes load-balance to */
  endpoints: ServiceEndpoint[];
  /** tasks the selector matches that are not endpoints, and why */
  notReady: { taskId: string; node?: string; reason: string }[];
  /** why the Service lacks endpoints or an address, when it does */
  message?: string;
  updatedAt: string;
}
