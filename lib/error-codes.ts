/**
 * The error index (isomorphic-git's src/errors is the model): every code gitcell raises on purpose,
 * with its meaning, grouped by family. Each family has one error class in errors.ts (StoreError,
 * ImageError, ...); `GitcellError` accepts only codes listed here, so a new code is added here first,
 * with a line saying what it means. Codes are stable: tests, the CLI and callers switch on them
 * (`isGitcellError(err, ErrorCodes.Conflict)`); the message is for humans and may change. Outside
 * this file and the tests no code is written as a string (test/unit/lib/error-index.test.ts checks).
 *
 * Over 400 lines on purpose: this is the one list of codes, two lines (meaning, code) per code and
 * no logic; a reader looks a code up here by searching one file, as in isomorphic-git's index.js.
 */

/** UsageErrors: a command line or option a user typed is wrong (exit 2). */
export const UsageErrors = {
  /** a flag, argument or option value is malformed or out of range */
  Usage: 'E_USAGE',
  /** the command needs root (containers, network namespaces) */
  NotRoot: 'E_NOT_ROOT',
  /** the object a client command names does not exist in the cluster */
  NotFound: 'E_NOT_FOUND',
  /** `gitcell dashboard` on an address other than loopback without a token (anyone who reaches it would read the cluster) */
  DashboardTokenRequired: 'E_DASHBOARD_TOKEN_REQUIRED',
  /** a dashboard request without the token (or with a wrong one, or a Host header that is not the dashboard's) */
  DashboardUnauthorized: 'E_DASHBOARD_UNAUTHORIZED',
  /** `gitcell plan --base`: the base revision is itself invalid */
  BaseInvalid: 'E_BASE_INVALID',
  /** `gitcell plan` could not compute the plan */
  Plan: 'E_PLAN',
  /** a stored nkey seed file is not a valid user seed */
  BadSeed: 'E_BAD_SEED',
  /** `gitcell up` could not create its working repository from --repo */
  RepoInit: 'E_REPO_INIT',
  /** `gitcell rollout undo`: no rollout to undo (none recorded, or the revision asked is the current one) */
  NothingToUndo: 'E_NOTHING_TO_UNDO',
  /** `gitcell reconcile`: the source is suspended (`gitcell resume` first) */
  Suspended: 'E_SUSPENDED',
} as const;

/** StoreErrors: NATS JetStream store (store/). */
export const StoreErrors = {
  /** a compare-and-set write lost: the key is no longer at the expected revision */
  Conflict: 'E_CONFLICT',
  /** create() of a key that already holds a value */
  Exists: 'E_EXISTS',
  /** a stored record is not JSON, not an envelope, of a future schema, or fails validation */
  InvalidRecord: 'E_INVALID_RECORD',
  /** a key or key filter that NATS KV cannot store or the layout forbids */
  InvalidKey: 'E_INVALID_KEY',
  /** no server answered (down, no JetStream leader yet, timeout); a write may or may not have happened */
  Unavailable: 'E_STORE_UNAVAILABLE',
  /** any other refusal from JetStream */
  Failed: 'E_STORE_FAILED',
  /** updateWithRetry gave up after too many lost races */
  TooManyConflicts: 'E_TOO_MANY_CONFLICTS',
  /** a write from a deposed leader: a higher lease term was seen */
  Fenced: 'E_FENCED',
  /** the NATS server refused the operation for this identity */
  PermissionDenied: 'E_PERMISSION_DENIED',
  /** no cluster to connect to (no --nats, no running embedded server) */
  NoCluster: 'E_NO_CLUSTER',
  /** another live gitcell owns the embedded server of this state directory */
  EmbeddedRunning: 'E_EMBEDDED_RUNNING',
  /** the embedded nats-server did not start */
  EmbeddedStart: 'E_EMBEDDED_START',
  /** the nats-server binary is not installed */
  NatsServerMissing: 'E_NATS_SERVER_MISSING',
  /** lease timings that cannot be safe (renew + safety >= lease) */
  LeaseTimings: 'E_LEASE_TIMINGS',
  /** the openssl binary (making the cluster CA and certificates) is not installed */
  OpensslMissing: 'E_OPENSSL_MISSING',
  /** making or reading a TLS certificate or key failed */
  TlsCert: 'E_TLS_CERT',
} as const;

/** ManifestErrors: a manifest in Git is invalid (reconciler/manifests, reconciler/validate): reported per file, field and line. */
export const ManifestErrors = {
  /** a manifest file is not valid YAML */
  YamlSyntax: 'E_YAML_SYNTAX',
  /** a manifest file is not UTF-8 text */
  ManifestEncoding: 'E_MANIFEST_ENCODING',
  /** a YAML document is not a mapping */
  ManifestNotMapping: 'E_MANIFEST_NOT_MAPPING',
  /** a YAML document exceeds the alias or nesting limits */
  ManifestTooComplex: 'E_MANIFEST_TOO_COMPLEX',
  /** a manifest file exceeds the size limit */
  ManifestTooLarge: 'E_MANIFEST_TOO_LARGE',
  /** a manifest file cannot be read */
  ManifestUnreadable: 'E_MANIFEST_UNREADABLE',
  /** a revision defines more objects than the limit */
  TooManyObjects: 'E_TOO_MANY_OBJECTS',
  /** validation stopped after the maximum number of problems */
  TooManyProblems: 'E_TOO_MANY_PROBLEMS',
  /** the manifest directory does not exist */
  PathNotFound: 'E_PATH_NOT_FOUND',
  /** an unknown or unsupported apiVersion */
  ApiVersion: 'E_API_VERSION',
  /** an unknown kind */
  UnknownKind: 'E_UNKNOWN_KIND',
  /** a field fails the kind's schema */
  Schema: 'E_SCHEMA',
  /** a CustomResourceDefinition is invalid */
  CrdInvalid: 'E_CRD_INVALID',
  /** a CronJob schedule is not a valid cron expression */
  CronInvalid: 'E_CRON_INVALID',
  /** a CronJob timeZone is not a known IANA zone */
  TimezoneInvalid: 'E_TIMEZONE_INVALID',
  /** two manifests define the same kind, namespace and name */
  DuplicateObject: 'E_DUPLICATE_OBJECT',
  /** two fields contradict each other */
  FieldConflict: 'E_FIELD_CONFLICT',
  /** an autoscale metric names no source gitcell knows (resource cpu/memory or prometheus) */
  UnknownMetric: 'E_UNKNOWN_METRIC',
  /** warning: an SLO's indicator will have no data (its Job is not in the repository, or exports no metrics port) */
  SloNoData: 'E_SLO_NO_DATA',
  /** a resource limit is below its request */
  LimitBelowRequest: 'E_LIMIT_BELOW_REQUEST',
  /** a Service address (cluster IP or port) is already claimed by another object */
  AddressClaimed: 'E_ADDRESS_CLAIMED',
  /** a probe or service names a port the template does not declare */
  PortNotFound: 'E_PORT_NOT_FOUND',
  /** a task template cannot be turned into tasks */
  TemplateInvalid: 'E_TEMPLATE_INVALID',
  /** a revision would prune every object (refused unless allowed) */
  PruneAll: 'E_PRUNE_ALL',
  /** a Secret carries plaintext values */
  PlaintextSecret: 'E_PLAINTEXT_SECRET',
  /** a Secret manifest is malformed */
  SecretInvalid: 'E_SECRET_INVALID',
  /** a template uses a Secret this revision does not define */
  SecretNotFound: 'E_SECRET_NOT_FOUND',
  /** a template uses a key the Secret does not have */
  SecretKeyNotFound: 'E_SECRET_KEY_NOT_FOUND',
  /** a resource quantity is not valid syntax (e.g. 100m, 256Mi) */
  QuantitySyntax: 'E_QUANTITY_SYNTAX',
  /** a resource quantity is negative */
  QuantityNegative: 'E_QUANTITY_NEGATIVE',
  /** a resource quantity is finer than its base unit */
  QuantityPrecision: 'E_QUANTITY_PRECISION',
  /** a resource quantity is beyond the safe integer range */
  QuantityRange: 'E_QUANTITY_RANGE',
} as const;

/** GitErrors: Git sources, reverts and pushes (reconciler/source, reconciler/git). */
export const GitErrors = {
  /** the repository directory does not exist */
  RepoNotFound: 'E_REPO_NOT_FOUND',
  /** `gitcell rollout undo`: the commit to revert is no longer on the branch */
  NotOnBranch: 'E_NOT_ON_BRANCH',
  /** `gitcell rollout undo`: the revert conflicts with later commits (revert by hand) */
  RevertConflict: 'E_REVERT_CONFLICT',
  /** the source sub-path leaves the repository */
  BadSubpath: 'E_BAD_SUBPATH',
  /** a Git credentials file is not valid */
  BadCredentials: 'E_BAD_CREDENTIALS',
  /** the webhook listen address is not HOST:PORT */
  BadListen: 'E_BAD_LISTEN',
  /** a repository's .gitcell.yaml is not valid */
  BadSettings: 'E_BAD_SETTINGS',
  /** the followed branch does not exist on the remote */
  BranchNotFound: 'E_BRANCH_NOT_FOUND',
  /** the remote refused the credentials */
  GitAuth: 'E_GIT_AUTH',
  /** fetching from the remote failed (or the branch is gone) */
  GitFetch: 'E_GIT_FETCH',
  /** pushing a revert failed */
  GitPush: 'E_GIT_PUSH',
  /** the branch moved while a revert was prepared (retried) */
  GitBranchMoved: 'E_GIT_BRANCH_MOVED',
  /** a git child process failed */
  GitExec: 'E_GIT_EXEC',
  /** the git binary is not installed */
  GitMissing: 'E_GIT_MISSING',
  /** a Git object is corrupt or too large to read */
  GitObjectCorrupt: 'E_GIT_OBJECT_CORRUPT',
  /** a path does not exist at the revision */
  GitPathNotFound: 'E_GIT_PATH_NOT_FOUND',
  /** no branch, tag or commit of that name */
  GitRefNotFound: 'E_GIT_REF_NOT_FOUND',
  /** a Git object or tree exceeds the loader's bounds (a zip bomb): the revision stalls */
  GitObjectTooLarge: 'E_GIT_OBJECT_TOO_LARGE',
  /** a fetched pack exceeds the transfer's size limit (the partial pack is removed) */
  GitPackTooLarge: 'E_GIT_PACK_TOO_LARGE',
  /** an SSH remote's host key is not pinned (no known_hosts given) or not the pinned one */
  GitHostKey: 'E_GIT_HOST_KEY',
  /** a commit is not signed by an allowed key: the revision stalls */
  UntrustedCommit: 'E_UNTRUSTED_COMMIT',
  /** signing a revert commit failed */
  GitSign: 'E_GIT_SIGN',
  /** the cluster's commit signing key cannot be made or read */
  SigningKey: 'E_SIGNING_KEY',
  /** a verification tool (ssh-keygen, gpg) could not be run */
  Exec: 'E_EXEC',
} as const;

/** SchedulerErrors: the scheduler core and its inputs (scheduler/). */
export const SchedulerErrors = {
  /** `gitcell schedule` input (snapshot or tasks file) is malformed */
  ScheduleInput: 'E_SCHEDULE_INPUT',
} as const;

/** ImageErrors: images, content and registries (runtime/image, runtime/registry). */
export const ImageErrors = {
  /** no image of that reference in the local store (or the registry) */
  ImageNotFound: 'E_IMAGE_NOT_FOUND',
  /** a blob is not in the content store */
  BlobNotFound: 'E_BLOB_NOT_FOUND',
  /** a blob declares more bytes than the configured cap */
  BlobTooLarge: 'E_BLOB_TOO_LARGE',
  /** a value is not a sha256 digest */
  DigestInvalid: 'E_DIGEST_INVALID',
  /** content does not hash to the expected digest; not stored */
  DigestMismatch: 'E_DIGEST_MISMATCH',
  /** more (or fewer) bytes than the descriptor said */
  SizeMismatch: 'E_SIZE_MISMATCH',
  /** an image manifest or index is malformed */
  ManifestInvalid: 'E_MANIFEST_INVALID',
  /** an image index has no manifest for this platform */
  PlatformNotFound: 'E_PLATFORM_NOT_FOUND',
  /** an image reference is malformed */
  ReferenceInvalid: 'E_REFERENCE_INVALID',
  /** a stored image ref file is damaged */
  RefInvalid: 'E_REF_INVALID',
  /** an OCI layout directory is malformed */
  LayoutInvalid: 'E_LAYOUT_INVALID',
  /** a directory to import as an image is not usable */
  RootfsInvalid: 'E_ROOTFS_INVALID',
  /** busybox-static is not installed (sample images) */
  BusyboxMissing: 'E_BUSYBOX_MISSING',
  /** the registry refused access (403) */
  RegistryDenied: 'E_REGISTRY_DENIED',
  /** the registry wants credentials it was not given (401) */
  RegistryUnauthorized: 'E_REGISTRY_UNAUTHORIZED',
  /** the registry answered with an error */
  RegistryError: 'E_REGISTRY_ERROR',
  /** the registry could not be reached */
  RegistryUnreachable: 'E_REGISTRY_UNREACHABLE',
  /** a blob transfer ended early */
  TransferInterrupted: 'E_TRANSFER_INTERRUPTED',
  /** the image is not on the node and its pull policy (Never) forbids pulling it */
  ImageNotPresent: 'E_IMAGE_NOT_PRESENT',
  /** registry credentials (a docker config.json, a mirror setting) are malformed */
  RegistryConfigInvalid: 'E_REGISTRY_CONFIG_INVALID',
} as const;

/** RuntimeErrors: containers, snapshots and mounts (runtime/container, runtime/snapshot). */
export const RuntimeErrors = {
  /** no container of that id or name */
  ContainerNotFound: 'E_CONTAINER_NOT_FOUND',
  /** an id prefix matches several containers */
  ContainerAmbiguous: 'E_CONTAINER_AMBIGUOUS',
  /** a container name is taken */
  ContainerNameInUse: 'E_CONTAINER_NAME_IN_USE',
  /** container options are invalid */
  ContainerInvalid: 'E_CONTAINER_INVALID',
  /** the container user cannot be resolved in the image */
  ContainerUser: 'E_CONTAINER_USER',
  /** runAsNonRoot is set but the container's user resolves to uid 0 */
  ContainerRunAsNonRoot: 'E_CONTAINER_RUNASNONROOT',
  /** a node's cgroup parent could not be limited (a write to its cgroup files was refused) */
  CgroupLimit: 'E_CGROUP_LIMIT',
  /** the container runs; stop it first (or force) */
  ContainerRunning: 'E_CONTAINER_RUNNING',
  /** the container does not run */
  ContainerNotRunning: 'E_CONTAINER_NOT_RUNNING',
  /** the container did not start */
  ContainerStartFailed: 'E_CONTAINER_START_FAILED',
  /** the container is in a state that does not allow the operation */
  ContainerState: 'E_CONTAINER_STATE',
  /** the container's shim or runc state is gone */
  ContainerLost: 'E_CONTAINER_LOST',
  /** committing a container's changes failed */
  CommitFailed: 'E_COMMIT_FAILED',
  /** waiting for a container timed out */
  Timeout: 'E_TIMEOUT',
  /** a runc command failed */
  RuncFailed: 'E_RUNC_FAILED',
  /** runc does not know the container */
  RuncNotFound: 'E_RUNC_NOT_FOUND',
  /** a required tool (runc, mknod, setfattr) is not installed */
  ToolMissing: 'E_TOOL_MISSING',
  /** a mount failed */
  MountFailed: 'E_MOUNT_FAILED',
  /** a path cannot be carried in overlay mount options */
  MountBadPath: 'E_MOUNT_BAD_PATH',
  /** too many layers for one overlay mount */
  MountTooManyLayers: 'E_MOUNT_TOO_MANY_LAYERS',
  /** an unmount failed */
  UnmountFailed: 'E_UNMOUNT_FAILED',
  /** a snapshot key is not a sha256 digest */
  BadDigest: 'E_BAD_DIGEST',
  /** a filesystem tool (mknod, setfattr) failed */
  FsOpFailed: 'E_FS_OP_FAILED',
  /** writing a layer entry failed */
  LayerApplyFailed: 'E_LAYER_APPLY_FAILED',
  /** a layer has an invalid whiteout entry */
  LayerBadWhiteout: 'E_LAYER_BAD_WHITEOUT',
  /** a layer's compressed stream is corrupt */
  LayerCorrupt: 'E_LAYER_CORRUPT',
  /** a layer's uncompressed digest differs from the image config */
  LayerDiffidMismatch: 'E_LAYER_DIFFID_MISMATCH',
  /** a layer decompresses past the size limit */
  LayerTooLarge: 'E_LAYER_TOO_LARGE',
  /** a layer has more entries than the limit */
  LayerTooManyEntries: 'E_LAYER_TOO_MANY_ENTRIES',
  /** a layer writes through a symlink or links out of the root */
  LayerUnsafeLink: 'E_LAYER_UNSAFE_LINK',
  /** a layer entry path leaves the root or crosses a non-directory */
  LayerUnsafePath: 'E_LAYER_UNSAFE_PATH',
  /** a layer media type gitcell cannot unpack */
  LayerUnsupported: 'E_LAYER_UNSUPPORTED',
} as const;

/** NetworkErrors: task networking (runtime/network). */
export const NetworkErrors = {
  /** a CNI plugin name or invocation is invalid or failed */
  CniPlugin: 'E_CNI_PLUGIN',
  /** a CNI plugin printed an unusable result */
  CniResult: 'E_CNI_RESULT',
  /** a CNI ADD (attach a sandbox to the network) failed */
  CniAdd: 'E_CNI_ADD',
  /** a CNI CHECK of a sandbox's network failed */
  CniCheck: 'E_CNI_CHECK',
  /** releasing a sandbox's network failed */
  CniDel: 'E_CNI_DEL',
  /** creating a network namespace failed */
  NetnsCreate: 'E_NETNS_CREATE',
  /** deleting a network namespace failed */
  NetnsDelete: 'E_NETNS_DELETE',
  /** a network namespace name is invalid */
  NetnsName: 'E_NETNS_NAME',
  /** the network configuration (subnet, bridge) is invalid */
  NetworkConfig: 'E_NETWORK_CONFIG',
  /** removing the bridge failed */
  NetworkDestroy: 'E_NETWORK_DESTROY',
  /** a sandbox id is invalid */
  NetworkId: 'E_NETWORK_ID',
  /** a sandbox has no network attachment */
  NetworkNotFound: 'E_NETWORK_NOT_FOUND',
  /** the nft binary (Service load balancing) is not installed */
  NftMissing: 'E_NFT_MISSING',
  /** an nftables transaction for Services was refused */
  NftApply: 'E_NFT_APPLY',
  /** the node's DNS server (dnsmasq, for Service names) is missing or did not start */
  DnsStart: 'E_DNS_START',
} as const;

/** SecretsErrors: sealed Secrets and key rings (secrets/, agent secret volumes). */
export const SecretsErrors = {
  /** a sealed value is not in the sealed format */
  SealedFormat: 'E_SEALED_FORMAT',
  /** a sealed value was tampered with or sealed for another Secret */
  SealedTampered: 'E_SEALED_TAMPERED',
  /** a sealed value names a key this cluster does not have */
  SealedUnknownKey: 'E_SEALED_UNKNOWN_KEY',
  /** plaintext Secret values are refused */
  SecretPlaintext: 'E_SECRET_PLAINTEXT',
  /** a sealing key backup cannot be opened */
  KeyBackup: 'E_KEY_BACKUP',
  /** the node's key pair is not ready yet */
  SecretsUnavailable: 'E_SECRETS_UNAVAILABLE',
  /** a Secret has not reached the node yet */
  SecretNotDelivered: 'E_SECRET_NOT_DELIVERED',
  /** a delivered Secret lacks a key a task uses */
  SecretKeyMissing: 'E_SECRET_KEY_MISSING',
  /** a Secret item path leaves the Secret's directory */
  SecretPath: 'E_SECRET_PATH',
} as const;

/** ReconcileErrors: how a reconcile of a revision ends early (reconciler/apply, Flux's taxonomy). */
export const ReconcileErrors = {
  /** the revision cannot be applied as it is (invalid, unbuildable, prunes everything): a new commit must fix it, no retry */
  Stalled: 'E_STALLED',
  /** the reconcile was told to stop (shutdown, lost leadership): not the revision's fault, retried at once by whoever runs next */
  Aborted: 'E_ABORTED',
} as const;

/** AgentErrors: the node agent and its services (agent/). */
export const AgentErrors = {
  /** the agent of a node did not answer */
  AgentUnreachable: 'E_AGENT_UNREACHABLE',
  /** a log request was refused */
  Logs: 'E_LOGS',
  /** a log request is malformed */
  LogRequest: 'E_LOG_REQUEST',
  /** the task does not run on this node */
  TaskNotFound: 'E_TASK_NOT_FOUND',
  /** running a command in a container (probe) failed */
  ExecFailed: 'E_EXEC_FAILED',
  /** the in-memory task runtime has no free address left */
  IpExhausted: 'E_IP_EXHAUSTED',
} as const;

/** ErrorFamilies is the index by family: each family's codes, raised only through its error class. */
export const ErrorFamilies = {
  Usage: UsageErrors,
  Store: StoreErrors,
  Manifest: ManifestErrors,
  Git: GitErrors,
  Scheduler: SchedulerErrors,
  Image: ImageErrors,
  Runtime: RuntimeErrors,
  Network: NetworkErrors,
  Secrets: SecretsErrors,
  Reconcile: ReconcileErrors,
  Agent: AgentErrors,
} as const;

/** ErrorFamily names a family of the index (Usage, Store, ...). */
export type ErrorFamily = keyof typeof ErrorFamilies;

/** FamilyCode is a code of family `F` (FamilyCode<'Store'> is every Store code). */
export type FamilyCode<F extends ErrorFamily> = F extends ErrorFamily ? (typeof ErrorFamilies)[F][keyof (typeof ErrorFamilies)[F]] : never;

/** ErrorCodes is every code of every family, by name. */
export const ErrorCodes = {
  ...UsageErrors,
  ...StoreErrors,
  ...ManifestErrors,
  ...GitErrors,
  ...SchedulerErrors,
  ...ImageErrors,
  ...RuntimeErrors,
  ...NetworkErrors,
  ...SecretsErrors,
  ...ReconcileErrors,
  ...AgentErrors,
} as const;

/** ErrorCode is any indexed code. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];
/** StoreErrorCode is a code of the Store family (the store's callers match on these). */
export type StoreErrorCode = FamilyCode<'Store'>;
/** RuntimeErrorCode is a code of the Runtime family. */
export type RuntimeErrorCode = FamilyCode<'Runtime'>;

const ALL_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCodes));

/** isErrorCode tells whether a string (from another process, a reply, a file) is an indexed code. */
export function isErrorCode(s: unknown): s is ErrorCode {
  return typeof s === 'string' && ALL_CODES.has(s);
}
