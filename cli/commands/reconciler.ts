import { readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { exitOnStoreReset } from '../store-reset.ts';
import type { Command } from 'commander';
import { parseDuration } from '../duration.ts';
import { errorMessage, isGitcellError, UsageError } from '../../lib/errors.ts';
import { parseIpv4Cidr } from '../../lib/ipv4.ts';
import { createLogger, type Logger } from '../../lib/log.ts';
import { componentLife } from '../../lib/component-life.ts';
import type { NatsConnection } from '@nats-io/transport-node';
import { Bucket, bucketConfig, closeConnection, connectFromOptions, objectCodec, openAutoscalerStore, openClusterStore, parseReplicas, replicasFor, splitServers, DEFAULT_PREFIX, DEFAULT_STATE_DIR, StoreErrorCodes, type AutoscalerStoreHandles } from '../../store/index.ts';
import { createSource, sourceNameOf, ensureSigningKey, parseListen, type ReconcilerService, parseVerifyMode, prepareTrustStore, VERIFY_MODES, runSecretDistributor, syncKeyBackup, type BackupStore, startReconcilerService, DEFAULT_POLL_MS, DEFAULT_SETTLE, type DesiredRecord, type SyncRecord, type Views } from '../../reconciler/index.ts';
import { Keyring, openSecret } from '../../secrets/index.ts';
import { runNotifier } from '../../reconciler/notify/index.ts';
import { runAutoscaler } from '../../reconciler/autoscale/index.ts';
import { checkMonitoringFlags, monitoringConfigTargets, startMonitoring, type ReconcilerMonitoring } from '../reconciler-monitoring.ts';
import { runMonitoringConfig } from '../../reconciler/monitor/index.ts';
import type { Secret } from '../../api/index.ts';
import type { LeaderContext, Lease } from '../../store/index.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';
import { addGitAuthOptions, gitAuthFromFlags, type GitAuthFlags } from '../git-auth.ts';
import { addClusterOptions } from '../options.ts';
import { ROLLBACK_FLAG_VALUES, type RollbackFlag } from '../../reconciler/git/index.ts';

interface ReconcilerOptions extends GitAuthFlags {
  repo: string;
  branch: string;
  path?: string;
  nats?: string;
  clusterDir?: string;
  creds?: string;
  autoscalerCreds?: string;
  prefix: string;
  replicas?: string;
  credentialsFile?: string;
  pollInterval: string;
  webhookListen?: string;
  webhookSecretFile?: string;
  name?: string;
  identity?: string;
  allowPruneAll?: boolean;
  allowPlaintextSecrets?: boolean;
  keyBackupPassphraseFile?: string;
  nodeSettle: string;
  expectNodes?: string;
  verifyCommits: string;
  allowedSigners?: string;
  trustedGpgKeys?: string;
  signingKey?: string;
  autoRollback: string;
  http?: string;
  scrape?: string[];
  prometheusUrl?: string;
  autoscaleSync: string;
  prometheusRules?: string;
  alertmanagerConfig?: string;
  alertmanagerUrl?: string;
  sloMinWindow?: string;
  clusterCidr?: string;
}

/** readSecret reads a one-line secret from the file a flag names; E_USAGE naming the flag otherwise. */
function readSecret(file: string, flag = '--webhook-secret-file'): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(ErrorCodes.Usage, `${flag} ${file}: ${errorMessage(err)}`, { flag, file });
  }
  const secret = text.replace(/\r?\n$/, '');
  if (secret.trim() === '') throw new UsageError(ErrorCodes.Usage, `${flag} ${file} is empty`, { flag, file });
  return secret;
}

/**
 * registerReconciler adds `gitcell reconciler`: one reconciler replica following a repository and
 * reconciling it into a running cluster. Run several for high availability: one leads, the others
 * stand by with the source warm.
 */
export function registerReconciler(program: Command): void {
  addGitAuthOptions(addClusterOptions(program.command('reconciler'), { clusterDir: undefined, clusterDirHelp: 'directory of a running `gitcell up` (its store, sealing keys) and of the clone cache' })
    .description('follow a Git repository and reconcile it into the cluster (leader-elected; run several for HA)')
    .requiredOption('--repo <path|url>', 'repository to follow: a local path, an http(s) URL, or an SSH remote (ssh://host/path, user@host:path)')
    .option('--branch <branch>', 'branch to follow', 'main')
    .option('--path <dir>', 'folder of the repository holding the manifests')
    .option('--replicas <n>', 'replicas of the buckets and streams it creates or scales, node Secret buckets included (default: 3 when the server is in a cluster of 3 or more, else 1; give every component the same)')
    .option('--credentials-file <file>', 'Git HTTP credentials: YAML with username/password or token')
    .option('--poll-interval <duration>', 'how often to fetch a remote repository', `${DEFAULT_POLL_MS / 1000}s`)
    .option('--webhook-listen <host:port>', 'serve a push webhook here (GitHub-style X-Hub-Signature-256)')
    .option('--webhook-secret-file <file>', 'file holding the webhook secret')
    .option('--name <name>', 'source name in the status (default: from the branch)')
    .option('--identity <name>', 'leader identity of this replica, unique per replica (default host-pid-random); a replica restarted under the same identity takes its lease back at once')
    .option('--allow-prune-all', 'let a revision prune every object gitcell manages')
    .option('--key-backup-passphrase-file <file>', 'back up the sealing key pairs in the store, encrypted with this passphrase (and restore them into an empty state dir)')
    .option('--node-settle <duration>', 'on a store never reconciled (new, or rebuilt after NATS lost its data), wait at most this long for nodes to register before creating tasks; 0 to not wait', `${DEFAULT_SETTLE.maxMs / 1000}s`)
    .option('--expect-nodes <n>', 'with --node-settle: the number of nodes of the cluster; the wait ends once that many registered')
    .option('--allow-plaintext-secrets', 'dev only: deliver Secrets with plaintext values (annotated gitcell.io/allow-plaintext)')
    .option('--verify-commits <mode>', `apply a revision only when signed by an allowed key: ${VERIFY_MODES.join(', ')} (tip: the tip commit; all: every commit since the last applied revision); .gitcell.yaml verifyCommits can only make it stricter`, 'off')
    .option('--allowed-signers <file>', 'SSH allowed_signers file (ssh-keygen -Y verify format) of keys whose signed commits are applied')
    .option('--trusted-gpg-keys <file>', 'armored OpenPGP public keys whose signed commits are applied')
    .option('--auto-rollback <mode>', `when a rollout fails: ${ROLLBACK_FLAG_VALUES.join(', ')} (revert: on the followed branch unless .gitcell.yaml says otherwise; branch: push the revert to a branch gitcell/revert-<commit> and leave a protected followed branch alone; off)`, 'revert')
    .option('--signing-key <file>', "the cluster's SSH key signing gitcell's revert commits, always in the allowed list (default <cluster-dir>/git-signing/id_ed25519, generated on first start)")
    .option('--http <host:port>', '/metrics, /healthz and /sd (Prometheus HTTP service discovery of the control plane, agents and task ports named "metrics") here; off when not given')
    .option('--prometheus-url <url>', 'Prometheus whose HTTP API answers autoscale metrics of type prometheus, and which is reloaded after --prometheus-rules change (gitcell up passes its own)')
    .option('--autoscaler-creds <file>', 'credentials of the autoscaler identity, the only one that may write live replica counts (gitcell up: <cluster-dir>/nats/autoscaler.nk); without it the autoscaler uses this replica\'s own')
    .option('--autoscale-sync <duration>', 'how often the autoscaler evaluates every autoscaled Job (Kubernetes\' HPA sync period)', process.env.GITCELL_AUTOSCALE_SYNC ?? '15s')
    .option('--scrape <component=url>', 'another control-plane endpoint /sd lists, e.g. scheduler=http://127.0.0.1:9471 (repeatable)', (v: string, acc: string[] = []) => [...acc, v])
    .option('--prometheus-rules <file>', 'while leading, write the SLOs in Git here as Prometheus recording and burn-rate alerting rules')
    .option('--alertmanager-config <file>', 'while leading, write Alertmanager\'s configuration here from the alert Receivers in Git (mode 0600: it holds their keys)')
    .option('--alertmanager-url <url>', 'the Alertmanager to reload (POST /-/reload) after its configuration changes')
    .option('--slo-min-window <seconds>', 'the shortest SLO burn-rate window (default 60; tests: a few scrape intervals; also GITCELL_SLO_MIN_WINDOW, which `gitcell up` hands down)', process.env.GITCELL_SLO_MIN_WINDOW)
    .option('--cluster-cidr <cidr>', "where nodes' task subnets (a /24 each) are allocated from (default 10.128.0.0/9); a node asking for its own keeps it while no other node holds it"))
    .action((opts: ReconcilerOptions) => runReconciler(opts));
}

/** ReconcilerFlags are the flags runReconciler checks before anything is opened: a bad one is a usage error at once. */
interface ReconcilerFlags {
  webhookSecret: string | undefined;
  pollIntervalMs: number;
  wantedReplicas: number | undefined;
  settleMaxMs: number;
  expectNodes: number | undefined;
  verifyMode: ReturnType<typeof parseVerifyMode>;
  autoRollback: RollbackFlag;
  stateDir: string;
  autoscaleSyncMs: number;
}

/** parseRollbackFlag checks --auto-rollback: E_USAGE naming the flag otherwise. */
function parseRollbackFlag(value: string): RollbackFlag {
  if ((ROLLBACK_FLAG_VALUES as readonly string[]).includes(value)) return value as RollbackFlag;
  throw new UsageError(ErrorCodes.Usage, `--auto-rollback ${value}: expected one of ${ROLLBACK_FLAG_VALUES.join(', ')}`, { flag: '--auto-rollback' });
}

function parseReconcilerFlags(opts: ReconcilerOptions): ReconcilerFlags {
  checkMonitoringFlags(opts);
  if (opts.webhookListen && !opts.webhookSecretFile) {
    throw new UsageError(ErrorCodes.Usage, '--webhook-listen needs --webhook-secret-file: an unsigned webhook would let anyone trigger fetches', { flag: '--webhook-secret-file' });
  }
  if (opts.webhookListen) {
    try {
      parseListen(opts.webhookListen);
    } catch (err) {
      throw new UsageError(ErrorCodes.Usage, errorMessage(err), { flag: '--webhook-listen' });
    }
  }
  const webhookSecret = opts.webhookListen ? readSecret(opts.webhookSecretFile!) : undefined;
  const pollIntervalMs = parseDuration(opts.pollInterval, '--poll-interval');
  const wantedReplicas = opts.replicas === undefined ? undefined : parseReplicas(opts.replicas);
  if (opts.clusterCidr !== undefined) parseIpv4Cidr(opts.clusterCidr, '--cluster-cidr');
  const settleMaxMs = opts.nodeSettle.trim() === '0' ? 0 : parseDuration(opts.nodeSettle, '--node-settle');
  const expectNodes = opts.expectNodes === undefined ? undefined : Number(opts.expectNodes);
  if (expectNodes !== undefined && !(Number.isInteger(expectNodes) && expectNodes > 0)) {
    throw new UsageError(ErrorCodes.Usage, `--expect-nodes "${opts.expectNodes}": expected a positive whole number`, { flag: '--expect-nodes' });
  }
  return {
    webhookSecret,
    pollIntervalMs,
    wantedReplicas,
    settleMaxMs,
    expectNodes,
    verifyMode: parseVerifyMode(opts.verifyCommits, '--verify-commits'),
    autoRollback: parseRollbackFlag(opts.autoRollback),
    stateDir: resolve(opts.clusterDir ?? DEFAULT_STATE_DIR),
    autoscaleSyncMs: parseDuration(opts.autoscaleSync, '--autoscale-sync'),
  };
}

/**
 * runReconciler runs one replica until SIGINT or SIGTERM. Whatever fails once it connected (the
 * webhook cannot listen, the store refuses these credentials), what was opened is closed again and
 * the error ends the process: never a replica doing nothing.
 */
async function runReconciler(opts: ReconcilerOptions): Promise<void> {
  const log = createLogger('reconciler');
  const flags = parseReconcilerFlags(opts);
  const { stateDir } = flags;
  // The cluster's own key: reverts are signed with it, and a verifying reconciler trusts it.
  const signing = await ensureSigningKey(opts.signingKey ?? join(stateDir, 'git-signing', 'id_ed25519'));
  const trust = await prepareTrustStore({
    dir: join(stateDir, 'git-trust', String(process.pid)),
    clusterPublicKey: signing.publicKey,
    ...(opts.allowedSigners ? { allowedSignersFile: opts.allowedSigners } : {}),
    ...(opts.trustedGpgKeys ? { gpgKeysFile: opts.trustedGpgKeys } : {}),
  });
  const auth = await gitAuthFromFlags(opts, stateDir);
  const source = createSource(
    {
      repo: opts.repo,
      ...(auth ? { auth } : {}),
      branch: opts.branch,
      ...(opts.path ? { subPath: opts.path } : {}),
      ...(opts.credentialsFile ? { credentialsFile: opts.credentialsFile } : {}),
      ...(opts.clusterDir ? { stateDir: opts.clusterDir } : {}),
      pollIntervalMs: flags.pollIntervalMs,
    },
    log,
  );
  const nc = await connectFromOptions({
    ...(opts.nats ? { nats: opts.nats } : {}),
    ...(opts.clusterDir ? { stateDir: opts.clusterDir } : {}),
    ...(opts.creds ? { creds: opts.creds } : {}),
    name: 'gitcell reconciler',
  });
  const replica: Replica = { opts, flags, nc, source, signingKey: signing.keyFile, trust, log };
  const closeSideConnections = async () => {
    if (replica.electionNc) await closeConnection(replica.electionNc);
    if (replica.autoscalerNc && replica.autoscalerNc !== nc) await closeConnection(replica.autoscalerNc);
  };
  try {
    await startReplica(replica);
    // NATS lost its data: start over (the supervisor or systemd restarts us) and re-apply Git.
    await exitOnStoreReset(nc, { prefix: opts.prefix, log, component: 'reconciler' });
  } catch (err) {
    await replica.svc?.stop().catch(() => undefined);
    await replica.monitoring?.close().catch(() => undefined);
    await source.stop().catch(() => undefined);
    await closeSideConnections().catch(() => undefined);
    await closeConnection(nc).catch(() => undefined);
    rmSync(join(stateDir, 'git-trust', String(process.pid)), { recursive: true, force: true });
    throw err;
  }
  const svc = replica.svc!;
  log.info({ repo: opts.repo, branch: opts.branch, replicas: replica.replicas, source: svc.sourceName, webhook: svc.webhook?.url, http: replica.monitoring?.url }, 'reconciler running');
  await componentLife().stopping;
  log.info('reconciler stopping');
  await svc.stop();
  await replica.monitoring?.close();
  await closeSideConnections();
  await closeConnection(nc);
  rmSync(join(stateDir, 'git-trust', String(process.pid)), { recursive: true, force: true });
}

/** Replica is what startReplica needs, and what it started (for the caller to stop). */
interface Replica {
  opts: ReconcilerOptions;
  flags: ReconcilerFlags;
  nc: NatsConnection;
  /** the autoscaler's own connection (--autoscaler-creds), else nc */
  autoscalerNc?: NatsConnection;
  /** the leader election's own connection (its renewals never queue behind the watches of nc) */
  electionNc?: NatsConnection;
  source: ReturnType<typeof createSource>;
  signingKey: string;
  trust: Awaited<ReturnType<typeof prepareTrustStore>>;
  log: Logger;
  replicas?: number;
  svc?: ReconcilerService;
  monitoring?: ReconcilerMonitoring;
}

/** startReplica opens the store and the sealing keys and starts the reconciler service with the leader's side jobs. */
async function startReplica(r: Replica): Promise<void> {
  const { opts, flags, nc, source, log } = r;
  const replicas = (r.replicas = flags.wantedReplicas ?? replicasFor(nc, opts.nats ? splitServers(opts.nats).length : 1));
  // The autoscaler's identity makes its bucket before the control plane binds it.
  const autoscaling = await openAutoscaling(r, replicas);
  const store = await openClusterStore<DesiredRecord, SyncRecord>(nc, { prefix: opts.prefix, replicas, log });
  // The sealing key pair lives with the reconciler (its state dir): it alone opens Secrets.
  const keyring = await Keyring.open(opts.clusterDir ?? DEFAULT_STATE_DIR);
  if (opts.keyBackupPassphraseFile) {
    const { restored } = await syncKeyBackup(keyring, store.sync as unknown as BackupStore, readSecret(opts.keyBackupPassphraseFile, '--key-backup-passphrase-file'));
    log.info({ restored, active: keyring.activeKeyId }, 'sealing keys backed up in the store');
  }
  const { settleMaxMs, expectNodes } = flags;
  const mon = (r.monitoring = await startMonitoring(opts, store, nc, log));
  const sourceName = opts.name ?? sourceNameOf(source.branch);
  // At 3,000 nodes under load, renewals on nc waited behind watch deliveries and the lease was lost
  // again and again; the election gets a connection of its own (the same identity).
  r.electionNc = await connectFromOptions({
    ...(opts.nats ? { nats: opts.nats } : {}),
    ...(opts.clusterDir ? { stateDir: opts.clusterDir } : {}),
    ...(opts.creds ? { creds: opts.creds } : {}),
    name: 'gitcell reconciler election',
  });
  const leases = await Bucket.bind(r.electionNc, bucketConfig('leases', opts.prefix, { replicas }), objectCodec<Lease>(), { log });
  r.svc = await startReconcilerService({
    store,
    source,
    leases,
    sealingKeys: (id) => keyring.privateKey(id),
    whileLeading: (ctx, views) => leaderJobs(r, ctx, { store, autoscaling, keyring, replicas, mon, views }),
    onReconciled: (_rev, outcome) => mon.onReconciled(sourceName, outcome),
    onRollback: (_rev, outcome) => mon.onRollback(sourceName, outcome),
    ...(opts.name ? { sourceName: opts.name } : {}),
    ...(opts.identity ? { identity: opts.identity } : {}),
    ...(opts.webhookListen ? { webhook: { listen: opts.webhookListen, secret: flags.webhookSecret! } } : {}),
    ...(opts.allowPruneAll ? { allowPruneAll: true } : {}),
    ...(opts.clusterCidr ? { clusterCidr: opts.clusterCidr } : {}),
    ...(opts.allowPlaintextSecrets ? { allowPlaintextSecrets: true } : {}),
    verify: { mode: flags.verifyMode, trust: r.trust },
    signingKey: r.signingKey,
    autoRollback: r.flags.autoRollback,
    ...(settleMaxMs > 0 ? { settleNodes: { quietMs: Math.min(DEFAULT_SETTLE.quietMs, settleMaxMs), maxMs: settleMaxMs, ...(expectNodes ? { expectNodes } : {}) } } : {}),
    log,
  });
}

/**
 * leaderJobs run while this replica leads: it delivers Secrets to the nodes that run their tasks
 * (re-sealed per node), tells the Receivers in Git (forge commit statuses, webhooks) what became of
 * each commit, autoscales the Jobs that ask for it, and says so in its leader gauge.
 */
function leaderJobs(r: Replica, ctx: LeaderContext, d: { store: Parameters<typeof runSecretDistributor>[0]['store'] & Parameters<typeof runNotifier>[0]['store']; autoscaling: AutoscalerStoreHandles<DesiredRecord>; keyring: Keyring; replicas: number; mon: ReconcilerMonitoring; views: () => Views }): Promise<unknown> {
  const { opts, source, log } = r;
  const { store, keyring, mon } = d;
  // The replica's copies of the task buckets and nodes: one copy of each per process, not one per loop.
  const { shared, nodes } = d.views();
  mon.setLeader(true);
  ctx.signal.addEventListener('abort', () => mon.setLeader(false), { once: true });
  const config = monitoringConfigTargets(opts);
  const openWithKeyring = (secret: Secret) => openSecret(secret, { privateKeyFor: (id) => keyring.privateKey(id), allowPlaintextSecrets: opts.allowPlaintextSecrets ?? false });
  return Promise.all([
    ...(config ? [runMonitoringConfig({ store, openSecret: openWithKeyring, ...config, signal: ctx.signal, log }).done] : []),
    runSecretDistributor({ store, keyring, signal: ctx.signal, log, replicas: d.replicas, shared: { ...shared, nodes: nodes.records }, ...(opts.allowPlaintextSecrets ? { allowPlaintextSecrets: true } : {}) }).done,
    runNotifier({
      store,
      sourceName: opts.name ?? sourceNameOf(source.branch),
      git: { gitdir: source.gitdir, ref: source.trackingRef },
      openSecret: openWithKeyring,
      signal: ctx.signal,
      log,
      onResult: (receiver, res) => mon.onNotification(receiver, res),
    }).done,
    // The autoscaler owns autoscaled Jobs' live counts (bucket autoscale); the controllers follow them.
    runAutoscaler({ store: d.autoscaling, shared, signal: ctx.signal, valid: ctx.valid, syncMs: r.flags.autoscaleSyncMs, log, ...(opts.prometheusUrl ? { prometheusUrl: opts.prometheusUrl } : {}) }).done,
  ]);
}

/**
 * openAutoscaling connects as the autoscaler (--autoscaler-creds; without it on the replica's own
 * connection, for open servers) and opens its part of the store, which creates the autoscale bucket.
 * A control-plane identity refused that is told what to give.
 */
async function openAutoscaling(r: Replica, replicas: number): Promise<AutoscalerStoreHandles<DesiredRecord>> {
  const { opts, nc, log } = r;
  r.autoscalerNc = opts.autoscalerCreds
    ? await connectFromOptions({ ...(opts.nats ? { nats: opts.nats } : {}), ...(opts.clusterDir ? { stateDir: opts.clusterDir } : {}), creds: opts.autoscalerCreds, name: 'gitcell autoscaler' })
    : nc;
  try {
    return await openAutoscalerStore<DesiredRecord>(r.autoscalerNc, { prefix: opts.prefix, replicas, log });
  } catch (err) {
    if (opts.autoscalerCreds || !isGitcellError(err, StoreErrorCodes.PermissionDenied)) throw err;
    throw new UsageError(ErrorCodes.Usage, `the autoscale bucket: ${errorMessage(err)}; only the autoscaler identity may write it: give --autoscaler-creds (gitcell up: <cluster-dir>/nats/autoscaler.nk; scripts/nats-auth.ts makes one)`, { flag: '--autoscaler-creds' });
  }
}
