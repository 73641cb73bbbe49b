import type { EnvVar, JobType, Probe, TaskTemplateSpec as ManifestTemplate } from '../../api/index.ts';
import type { ResolvedProbe, TaskSecurityContext, TaskTemplate } from '../../api/index.ts';
import { parseCpu, parseMemory } from '../../api/index.ts';
import { GitcellError, errorMessage, isGitcellError, ErrorCodes, ManifestError } from '../../lib/index.ts';
import { hashOf } from './canonical.ts';

/** PROBE_DEFAULTS are Kubernetes' probe timings, applied to every field a manifest leaves out. */
export const PROBE_DEFAULTS = {
  initialDelaySeconds: 0,
  periodSeconds: 10,
  timeoutSeconds: 1,
  successThreshold: 1,
  failureThreshold: 3,
} as const;

/** DEFAULT_TERMINATION_GRACE_SECONDS is Kubernetes' default grace period before SIGKILL. */
export const DEFAULT_TERMINATION_GRACE_SECONDS = 30;

/** ResolveContext is what template resolution needs beyond the template itself. */
export interface ResolveContext {
  /** type picks the default restart policy: service Always, batch OnFailure. */
  type: JobType;
  /** secretVersions maps a Secret name (same namespace) to its current version; it enters the hash. */
  secretVersions?: Readonly<Record<string, string>>;
  /** field is the path of the template in its object, for error messages (e.g. "spec.template"). */
  field?: string;
}

/** ResolvedTemplate is a resolved template with its stable hash. */
export interface ResolvedTemplate {
  template: TaskTemplate;
  templateHash: string;
}

/**
 * resolveTemplate turns a manifest's container template into the machine-facing TaskTemplate:
 * quantities parsed to millicores and bytes (a missing request defaults to the limit, as in
 * Kubernetes), probes with every default filled in and named ports resolved, restart policy
 * defaulted by job type, secret mounts stamped with their Secret's version. Pure. Throws
 * GitcellError E_TEMPLATE_INVALID naming the field when the template cannot be resolved (the
 * validator rejects such manifests earlier; this keeps resolution from ever crashing).
 */
export function resolveTemplate(tpl: ManifestTemplate, ctx: ResolveContext): ResolvedTemplate {
  const template = resolveTaskTemplate(tpl, ctx);
  return { template, templateHash: templateHash(template) };
}

/**
 * resolveTaskTemplate is resolveTemplate without the hash, for callers that only check that a
 * template resolves (the build phase of 10,000 objects should not hash them all twice).
 */
export function resolveTaskTemplate(tpl: ManifestTemplate, ctx: ResolveContext): TaskTemplate {
  const field = ctx.field ?? 'template';
  const versions = ctx.secretVersions ?? {};
  const ports = (tpl.ports ?? []).map((p) => ({
    ...(p.name !== undefined ? { name: p.name } : {}),
    containerPort: p.containerPort,
    ...(p.hostPort !== undefined ? { hostPort: p.hostPort } : {}),
    protocol: p.protocol ?? ('TCP' as const),
  }));
  const portByName = new Map(ports.filter((p) => p.name !== undefined).map((p) => [p.name!, p.containerPort]));
  const probe = (p: Probe | undefined, name: string): ResolvedProbe | undefined =>
    p === undefined ? undefined : resolveProbe(p, portByName, `${field}.${name}`);

  const { env, secretEnv } = splitEnv(tpl.env ?? [], versions);
  const template: TaskTemplate = {
    // Only when set, so templates without labels keep the hash they had before labels were carried.
    ...(tpl.labels !== undefined && Object.keys(tpl.labels).length > 0 ? { labels: { ...tpl.labels } } : {}),
    image: tpl.image,
    // Only when set, so templates without them keep their hash.
    ...(tpl.imagePullPolicy !== undefined ? { imagePullPolicy: tpl.imagePullPolicy } : {}),
    ...(tpl.imagePullSecrets?.length ? { imagePullSecrets: tpl.imagePullSecrets.map((s) => ({ secretName: s.name })) } : {}),
    ...(tpl.command !== undefined ? { command: [...tpl.command] } : {}),
    ...(tpl.args !== undefined ? { args: [...tpl.args] } : {}),
    env,
    ...(secretEnv.length > 0 ? { secretEnv } : {}),
    ...(tpl.workingDir !== undefined ? { workingDir: tpl.workingDir } : {}),
    ...resolveSecurity(tpl),
    resources: resolveResources(tpl, field),
    ports,
    probes: dropUndefined({
      liveness: probe(tpl.livenessProbe, 'livenessProbe'),
      readiness: probe(tpl.readinessProbe, 'readinessProbe'),
      startup: probe(tpl.startupProbe, 'startupProbe'),
    }),
    secretMounts: (tpl.secretMounts ?? []).map((m) => ({
      secretName: m.secretName,
      mountPath: m.mountPath,
      ...(m.items !== undefined ? { items: m.items.map((i) => ({ key: i.key, path: i.path })) } : {}),
      ...(m.defaultMode !== undefined ? { defaultMode: m.defaultMode } : {}),
      ...(versions[m.secretName] !== undefined ? { version: versions[m.secretName] } : {}),
    })),
    nodeSelector: { ...(tpl.nodeSelector ?? {}) },
    tolerations: (tpl.tolerations ?? []).map((t) => ({ ...t })),
    restartPolicy: tpl.restartPolicy ?? (ctx.type === 'service' ? 'Always' : 'OnFailure'),
    terminationGracePeriodSeconds: tpl.terminationGracePeriodSeconds ?? DEFAULT_TERMINATION_GRACE_SECONDS,
  };
  return template;
}

/**
 * templateHash is the stable identity of a resolved template: SHA-256 of its canonical JSON. Secret
 * versions are part of the template, so rotating a mounted Secret changes the hash and rolls tasks.
 */
export function templateHash(template: TaskTemplate): string {
  return hashOf(template);
}

/** secretsUsedBy lists the Secret names a manifest template mounts, reads env values from or pulls its image with. */
export function secretsUsedBy(tpl: ManifestTemplate): string[] {
  const names = new Set<string>();
  for (const s of tpl.imagePullSecrets ?? []) names.add(s.name);
  for (const m of tpl.secretMounts ?? []) names.add(m.secretName);
  for (const e of tpl.env ?? []) if (e.valueFrom?.secretKeyRef) names.add(e.valueFrom.secretKeyRef.name);
  return [...names].sort();
}

// Exact quantity parsing goes through BigInt; a repository repeats the same few quantities
// thousands of times, so remember them (bounded: cleared when full).
const QUANTITY_MEMO_MAX = 4096;
const quantityMemo = new Map<string, number>();

function resolveResources(tpl: ManifestTemplate, field: string): TaskTemplate['resources'] {
  const r = tpl.resources ?? {};
  const parse = (v: unknown, kind: 'cpu' | 'memory', path: string): number => {
    const memoKey = `${kind}:${typeof v}:${String(v)}`;
    const hit = quantityMemo.get(memoKey);
    if (hit !== undefined) return hit;
    try {
      const n = kind === 'cpu' ? parseCpu(v) : parseMemory(v);
      if (quantityMemo.size >= QUANTITY_MEMO_MAX) quantityMemo.clear();
      quantityMemo.set(memoKey, n);
      return n;
    } catch (err) {
      const code = isGitcellError(err) ? err.code : ErrorCodes.QuantitySyntax;
      throw new ManifestError(ErrorCodes.TemplateInvalid, `${path}: ${errorMessage(err)}`, { field: path, reason: code });
    }
  };
  const limits: { cpuMillis?: number; memoryBytes?: number } = {};
  if (r.limits?.cpu !== undefined) limits.cpuMillis = parse(r.limits.cpu, 'cpu', `${field}.resources.limits.cpu`);
  if (r.limits?.memory !== undefined) limits.memoryBytes = parse(r.limits.memory, 'memory', `${field}.resources.limits.memory`);
  const requests = {
    cpuMillis: r.requests?.cpu !== undefined ? parse(r.requests.cpu, 'cpu', `${field}.resources.requests.cpu`) : (limits.cpuMillis ?? 0),
    memoryBytes:
      r.requests?.memory !== undefined ? parse(r.requests.memory, 'memory', `${field}.resources.requests.memory`) : (limits.memoryBytes ?? 0),
  };
  return { requests, limits };
}

/**
 * resolveSecurity folds securityContext.runAsUser/runAsGroup into `user` ("uid[:gid]", what the
 * agent and the runtime already read) and keeps the rest as TaskSecurityContext, capability names
 * upper-cased without CAP_ and sorted so equal contexts hash equal.
 */
function resolveSecurity(tpl: ManifestTemplate): Pick<TaskTemplate, 'user' | 'securityContext'> {
  const sc = tpl.securityContext;
  let user = tpl.user !== undefined ? String(tpl.user) : undefined;
  if (!sc) return user !== undefined ? { user } : {};
  const out: TaskSecurityContext = {};
  const uid = sc.runAsUser !== undefined ? String(sc.runAsUser) : user?.split(':')[0];
  if (sc.runAsUser !== undefined) user = sc.runAsGroup !== undefined ? `${uid}:${sc.runAsGroup}` : uid;
  else if (sc.runAsGroup !== undefined) {
    if (uid !== undefined) user = `${uid}:${sc.runAsGroup}`;
    else out.runAsGroup = sc.runAsGroup; // the image's user, with this group: only the runtime knows the uid
  }
  if (sc.runAsNonRoot !== undefined) out.runAsNonRoot = sc.runAsNonRoot;
  if (sc.readOnlyRootFilesystem !== undefined) out.readOnlyRootFilesystem = sc.readOnlyRootFilesystem;
  if (sc.capabilities) {
    const norm = (l: string[] | undefined): string[] => [...new Set((l ?? []).map((c) => c.toUpperCase().replace(/^CAP_/, '')))].sort();
    out.capabilities = { drop: norm(sc.capabilities.drop), add: norm(sc.capabilities.add) };
  }
  return { ...(user !== undefined ? { user } : {}), ...(Object.keys(out).length ? { securityContext: out } : {}) };
}

function resolveProbe(p: Probe, portByName: Map<string, number>, path: string): ResolvedProbe {
  const port = (value: number | string, at: string): number => {
    if (typeof value === 'number') return value;
    const n = portByName.get(value);
    if (n !== undefined) return n;
    if (/^\d+$/.test(value)) return Number(value);
    throw new ManifestError(ErrorCodes.TemplateInvalid, `${at}: port "${value}" names no port of the template`, { field: at, reason: 'unknown port name' });
  };
  const out: ResolvedProbe = {
    initialDelaySeconds: p.initialDelaySeconds ?? PROBE_DEFAULTS.initialDelaySeconds,
    periodSeconds: p.periodSeconds ?? PROBE_DEFAULTS.periodSeconds,
    timeoutSeconds: p.timeoutSeconds ?? PROBE_DEFAULTS.timeoutSeconds,
    successThreshold: p.successThreshold ?? PROBE_DEFAULTS.successThreshold,
    failureThreshold: p.failureThreshold ?? PROBE_DEFAULTS.failureThreshold,
  };
  if (p.httpGet) {
    out.httpGet = {
      path: p.httpGet.path ?? '/',
      port: port(p.httpGet.port, `${path}.httpGet.port`),
      scheme: p.httpGet.scheme ?? 'HTTP',
      ...(p.httpGet.httpHeaders?.length ? { headers: p.httpGet.httpHeaders.map((h) => ({ name: h.name, value: h.value })) } : {}),
    };
  }
  if (p.tcpSocket) out.tcpSocket = { port: port(p.tcpSocket.port, `${path}.tcpSocket.port`) };
  if (p.exec) out.exec = { command: [...p.exec.command] };
  return out;
}

function splitEnv(vars: EnvVar[], versions: Readonly<Record<string, string>>): Pick<TaskTemplate, 'env'> & { secretEnv: NonNullable<TaskTemplate['secretEnv']> } {
  const env: TaskTemplate['env'] = [];
  const secretEnv: NonNullable<TaskTemplate['secretEnv']> = [];
  for (const v of vars) {
    const ref = v.valueFrom?.secretKeyRef;
    if (ref) {
      secretEnv.push({ name: v.name, secretName: ref.name, key: ref.key, ...(versions[ref.name] !== undefined ? { version: versions[ref.name] } : {}) });
    } else {
      env.push({ name: v.name, value: v.value ?? '' });
    }
  }
  return { env, secretEnv };
}

function dropUndefined<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}
