// Validate benchmark: load and validate a generated repository of 10,000 objects from Git.
//   objects   objects loaded and validated
//   seconds   wall time of loadManifestsFromGit + validateManifests (schemas compiled inside the timing)
//   rss_mb    peak resident memory of this process while loading and validating
//   cpu_seconds  CPU time of the same work, every thread (wall time is inflated when the shared machine is busy)
//   main_thread_cpu_seconds  CPU time of the main thread alone: with parse workers (parse-pool.ts) on
//                the other cores, what the wall time would be on an idle machine (10 ms ticks)
// Targets (issue 2): under 3 s and under 300 MB on the project machine.
// The repository is generated beforehand with the git CLI (like a working clone, loose objects;
// `--pack` runs `git gc` first, like a fresh clone). The mix of kinds is realistic: service and batch
// Jobs with full templates, CronJobs, DaemonSets, sealed Secrets the Jobs reference, a CRD and its objects.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadManifestsFromGit, validateManifests, formatProblem } from '../reconciler/index.ts';
import { sealValue } from '../secrets/index.ts';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const OBJECTS = arg('objects', 10_000);
const PER_FILE = arg('per-file', 20);
const PACK = process.argv.includes('--pack');
const NAMESPACES = 20;

const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

/** manifest returns object number i: the kinds cycle so every file mixes them like a real repo. */
function manifest(i: number): string {
  const ns = `team-${Math.floor(i / 20) % NAMESPACES}`; // one namespace per group of 20, so references resolve
  const slot = i % 20;
  if (i === 0) return crd();
  if (slot < 3) {
    const name = `creds-${i}`;
    const seal = (key: string) => sealValue(publicKey, { namespace: ns, name, key }, `value-of-${key}-${i}`);
    return `apiVersion: gitcell.io/v1\nkind: Secret\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n  encryptedData:\n    password: ${seal('password')}\n    token: ${seal('token')}`;
  }
  const secret = `creds-${i - slot + 1}`; // a Secret of the same 20-object group, same namespace
  if (slot < 12) return serviceJob(i, ns, secret);
  if (slot < 15) return batchJob(i, ns);
  if (slot < 18) return cronJob(i, ns);
  if (slot === 18) return daemonSet(i, ns);
  return `apiVersion: example.com/v1
kind: Database
metadata: {name: db-${i}, namespace: ${ns}}
spec: {engine: postgres, storageGi: ${1 + (i % 100)}}`;
}

/** serviceJob is a service Job using every template feature the validator checks, with a Secret of its group. */
function serviceJob(i: number, ns: string, secret: string): string {
  return `apiVersion: gitcell.io/v1
kind: Job
metadata:
  name: web-${i}
  namespace: ${ns}
  labels: {app: web-${i}, tier: frontend}
spec:
  owner: team-${i % NAMESPACES}
  type: service
  replicas: ${1 + (i % 5)}
  priority: production
  strategy: {maxUnavailable: 1, maxSurge: 25%, progressDeadlineSeconds: 300}
  template:
    labels: {app: web-${i}}
    image: registry.local/web-${i % 50}:1.${i % 7}
    command: [httpd]
    args: ["-f", "-p", "8080"]
    env:
      - {name: MODE, value: production}
      - name: TOKEN
        valueFrom: {secretKeyRef: {name: ${secret}, key: token}}
    resources:
      requests: {cpu: 100m, memory: 64Mi}
      limits: {cpu: "1", memory: 256Mi}
    ports: [{name: http, containerPort: 8080}]
    readinessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 5}
    livenessProbe: {tcpSocket: {port: 8080}, initialDelaySeconds: 5}
    secretMounts: [{secretName: ${secret}, mountPath: /run/secrets/app, items: [{key: password, path: password}]}]
    nodeSelector: {disk: ssd}
    tolerations: [{key: dedicated, operator: Equal, value: web, effect: NoSchedule}]`;
}

function batchJob(i: number, ns: string): string {
  return `apiVersion: gitcell.io/v1
kind: Job
metadata: {name: batch-${i}, namespace: ${ns}}
spec:
  type: batch
  priority: 150
  completions: 10
  parallelism: 3
  backoffLimit: 4
  template:
    image: registry.local/batch:2
    command: [sh, -c, "echo work ${i}"]
    resources: {requests: {cpu: 500m, memory: 1Gi}}
    restartPolicy: OnFailure`;
}

function cronJob(i: number, ns: string): string {
  return `apiVersion: gitcell.io/v1
kind: CronJob
metadata: {name: cron-${i}, namespace: ${ns}}
spec:
  schedule: "${i % 60} */${1 + (i % 6)} * * *"
  timeZone: Europe/Paris
  concurrencyPolicy: Forbid
  jobTemplate:
    backoffLimit: 1
    template:
      image: registry.local/cron:1
      command: [date]
      resources: {requests: {cpu: 50m, memory: 32Mi}}
      restartPolicy: Never`;
}

function daemonSet(i: number, ns: string): string {
  return `apiVersion: gitcell.io/v1
kind: DaemonSet
metadata: {name: agent-${i}, namespace: ${ns}}
spec:
  priority: monitoring
  strategy: {maxUnavailable: 10%}
  template:
    image: registry.local/agent:3
    resources: {requests: {cpu: 10m, memory: 16Mi}, limits: {memory: 32Mi}}
    tolerations: [{operator: Exists}]`;
}

function crd(): string {
  return `apiVersion: gitcell.io/v1
kind: CustomResourceDefinition
metadata: {name: databases}
spec:
  group: example.com
  names: {kind: Database, plural: databases}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          required: [spec]
          properties:
            spec:
              type: object
              required: [engine, storageGi]
              additionalProperties: false
              properties:
                engine: {type: string, enum: [postgres, mysql]}
                storageGi: {type: integer, minimum: 1, maximum: 1024}`;
}

async function makeRepo(): Promise<{ dir: string; commit: string; bytes: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'gitcell-bench-validate-'));
  let bytes = 0;
  for (let f = 0; f * PER_FILE < OBJECTS; f++) {
    const docs: string[] = [];
    for (let i = f * PER_FILE; i < Math.min(OBJECTS, (f + 1) * PER_FILE); i++) docs.push(manifest(i));
    const folder = join(dir, 'cluster', `team-${f % NAMESPACES}`);
    await mkdir(folder, { recursive: true });
    const text = `${docs.join('\n---\n')}\n`;
    bytes += Buffer.byteLength(text);
    await writeFile(join(folder, `objects-${String(f).padStart(4, '0')}.yaml`), text);
  }
  const env = { ...process.env, GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'bench@gitcell.invalid', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'bench@gitcell.invalid' };
  const git = (...args: string[]) => execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', env }).trim();
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-q', '-m', `${OBJECTS} objects`);
  if (PACK) git('gc', '-q');
  return { dir, commit: git('rev-parse', 'HEAD'), bytes };
}

/** mainThreadCpuMs is the main thread's CPU time (user + system) from /proc, in ms (10 ms ticks). */
function mainThreadCpuMs(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10; // utime stime (USER_HZ 100)
}

const repo = await makeRepo();
console.log(`generated ${OBJECTS} objects (${(repo.bytes / 1024 / 1024).toFixed(1)} MiB of YAML, ${Math.ceil(OBJECTS / PER_FILE)} files${PACK ? ', packed' : ', loose objects'}) at ${repo.commit.slice(0, 12)}`);
try {
  (globalThis as { gc?: () => void }).gc?.();
  const rssBefore = process.memoryUsage.rss();
  let peakRss = rssBefore;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 5);
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadCpuMs();
  const t0 = performance.now();
  const load = await loadManifestsFromGit({ dir: repo.dir, ref: 'main', path: 'cluster' });
  const t1 = performance.now();
  const { problems } = validateManifests(load);
  const t2 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const mainCpuMs = mainThreadCpuMs() - main0;
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
  for (const p of problems.slice(0, 10)) console.log(formatProblem(p));
  if (problems.length > 0) console.log(`${problems.length} problems: the generated repository should be valid`);
  console.log(`load ${((t1 - t0) / 1000).toFixed(2)} s, validate ${((t2 - t1) / 1000).toFixed(2)} s, peak rss ${(peakRss / 1024 / 1024).toFixed(0)} MB (before: ${(rssBefore / 1024 / 1024).toFixed(0)} MB)`);
  console.log(JSON.stringify({
    objects: load.objects.length,
    files: load.files,
    seconds: Number(((t2 - t0) / 1000).toFixed(3)),
    rss_mb: Math.round(peakRss / 1024 / 1024),
    // CPU time says what the wall time would be on an idle machine (this one is shared by many agents).
    cpu_seconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(3)),
    main_thread_cpu_seconds: Number((mainCpuMs / 1000).toFixed(2)),
    load_average: Number(loadavg()[0]!.toFixed(1)),
    load_seconds: Number(((t1 - t0) / 1000).toFixed(3)),
    validate_seconds: Number(((t2 - t1) / 1000).toFixed(3)),
    problems: problems.length,
    packed: PACK,
  }));
  if (problems.length > 0) process.exitCode = 1;
} finally {
  await rm(repo.dir, { recursive: true, force: true });
}
