// Per-kind checks beyond the schemas. Each takes the raw object (it may have failed the schema, so
// every access is guarded) and reports findings by field path.
import { Cron } from 'croner';
import { ALLOW_PLAINTEXT_ANNOTATION, DEFAULT_NAMESPACE } from '../../api/index.ts';
import { parseSealedValue } from '../../secrets/index.ts';
import { isGitcellError } from '../../lib/index.ts';
import type { FieldPath } from '../manifests/index.ts';
import { checkTemplate } from './check-template.ts';
import { checkAutoscale } from './check-autoscale.ts';
import { ValidationCode, recordAt, stringAt, type Report } from './finding.ts';
import { quote } from './format.ts';

const BATCH_FIELDS = ['completions', 'parallelism', 'backoffLimit', 'activeDeadlineSeconds'] as const;

/** checkJob: batch fields only on batch Jobs, replicas and strategy only on services, a rollout that can progress. */
export function checkJob(obj: Record<string, unknown>, report: Report): void {
  const spec = recordAt(obj, 'spec');
  if (!spec) return;
  const type = stringAt(spec, 'type');
  if (type === 'service') {
    for (const f of BATCH_FIELDS) if (f in spec) report(['spec', f], ValidationCode.conflict, `${f} applies only to type: batch (this Job is type: service)`);
  } else if (type === 'batch') {
    if ('replicas' in spec) report(['spec', 'replicas'], ValidationCode.conflict, 'replicas applies only to type: service; a batch Job uses completions and parallelism');
    if ('strategy' in spec) report(['spec', 'strategy'], ValidationCode.conflict, 'a rolling strategy applies only to type: service');
  }
  checkStrategy(recordAt(spec, 'strategy'), ['spec', 'strategy'], report);
  checkAutoscale(spec, type, report);
  // With an invalid type (reported by the schema) the template is still checked, minus the restart policy.
  checkTemplate(spec.template, ['spec', 'template'], type === 'service' || type === 'batch' ? type : undefined, report);
}

/** checkDaemonSet: the template runs forever; a rollout must be allowed to take a node down. */
export function checkDaemonSet(obj: Record<string, unknown>, report: Report): void {
  const spec = recordAt(obj, 'spec');
  if (!spec) return;
  const strategy = recordAt(spec, 'strategy');
  if (strategy && (strategy.maxUnavailable === 0 || strategy.maxUnavailable === '0%')) {
    report(['spec', 'strategy', 'maxUnavailable'], ValidationCode.conflict, 'must be at least 1 (or 1%): a DaemonSet updates a node by replacing its task, so 0 would never progress');
  }
  checkStrategy(strategy, ['spec', 'strategy'], report);
  checkTemplate(spec.template, ['spec', 'template'], 'daemon', report);
}

/** checkCronJob: the schedule parses (croner) and fires at least once, the time zone exists. */
export function checkCronJob(obj: Record<string, unknown>, report: Report): void {
  const spec = recordAt(obj, 'spec');
  if (!spec) return;
  const tz = stringAt(spec, 'timeZone');
  const tzOk = tz === undefined || isTimeZone(tz);
  if (!tzOk) report(['spec', 'timeZone'], ValidationCode.timeZone, `${quote(tz)} is not an IANA time zone (e.g. "UTC", "Europe/Paris")`);
  const schedule = stringAt(spec, 'schedule');
  if (schedule !== undefined) {
    const problem = cronProblem(schedule, tzOk ? tz : undefined);
    if (problem !== undefined) report(['spec', 'schedule'], ValidationCode.cron, problem);
  }
  const jt = recordAt(spec, 'jobTemplate');
  if (jt) checkTemplate(jt.template, ['spec', 'jobTemplate', 'template'], 'batch', report);
}

// Repositories repeat a handful of schedules and zones across many CronJobs, and building a
// DateTimeFormat or a Cron costs far more than a lookup: remember answers (bounded, pure).
const CACHE_LIMIT = 10_000;
const zoneCache = new Map<string, boolean>();
const cronCache = new Map<string, string | undefined>();

function isTimeZone(tz: string): boolean {
  let ok = zoneCache.get(tz);
  if (ok === undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
      ok = true;
    } catch {
      ok = false;
    }
    if (zoneCache.size < CACHE_LIMIT) zoneCache.set(tz, ok);
  }
  return ok;
}

/** cronProblem says what is wrong with a schedule (croner parses it), or undefined when it is fine. */
function cronProblem(schedule: string, tz: string | undefined): string | undefined {
  const key = `${tz ?? ''}\0${schedule}`;
  if (cronCache.has(key)) return cronCache.get(key);
  let problem: string | undefined;
  let cron: Cron | undefined;
  try {
    cron = new Cron(schedule, { paused: true, ...(tz !== undefined ? { timezone: tz } : {}) });
    if (cron.nextRun() === null) problem = `${quote(schedule)} never fires`;
  } catch (err) {
    const why = err instanceof Error ? err.message.replace(/^CronPattern: /, '') : String(err);
    problem = `${quote(schedule)} is not a cron schedule: ${why} (e.g. "*/15 * * * *" or "@daily")`;
  } finally {
    cron?.stop();
  }
  if (cronCache.size < CACHE_LIMIT) cronCache.set(key, problem);
  return problem;
}

/** SecretCheckOptions: plaintext values pass only with the annotation AND this option (dev only). */
export interface SecretCheckOptions {
  allowPlaintextSecrets: boolean;
}

/** checkSecret: plaintext only in dev mode, sealed values in the sealed format, each key set once. */
export function checkSecret(obj: Record<string, unknown>, options: SecretCheckOptions, report: Report): void {
  const spec = recordAt(obj, 'spec');
  if (!spec) return;
  const annotated = recordAt(recordAt(obj, 'metadata'), 'annotations')?.[ALLOW_PLAINTEXT_ANNOTATION] === 'true';
  for (const field of ['data', 'stringData'] as const) {
    if (!(field in spec) || (annotated && options.allowPlaintextSecrets)) continue;
    const missing = annotated
      ? 'run with --allow-plaintext-secrets (dev only)'
      : `annotate the Secret ${ALLOW_PLAINTEXT_ANNOTATION}: "true" and run with --allow-plaintext-secrets (dev only)`;
    report(['spec', field], ValidationCode.plaintextSecret, `plaintext Secret values are refused: seal them into spec.encryptedData (gitcell secret seal), or ${missing}`);
  }
  const meta = recordAt(obj, 'metadata');
  const scope = { namespace: stringAt(meta, 'namespace') ?? DEFAULT_NAMESPACE, name: stringAt(meta, 'name') ?? '' };
  const encrypted = recordAt(spec, 'encryptedData') ?? {};
  for (const [key, value] of Object.entries(encrypted)) {
    // A bad key or non-base64 value is already a schema problem; one line per mistake is enough.
    if (typeof value !== 'string' || !/^[-._a-zA-Z0-9]+$/.test(key) || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) continue;
    try {
      parseSealedValue(value, { ...scope, key });
    } catch (err) {
      if (!isGitcellError(err)) throw err;
      const reason = typeof err.data.reason === 'string' ? err.data.reason : err.message;
      report(['spec', 'encryptedData', key], ValidationCode.sealedFormat, `not a sealed value (${reason}): seal it with gitcell secret seal`);
    }
  }
  const owner = new Map<string, string>();
  for (const field of ['encryptedData', 'data', 'stringData']) {
    for (const key of Object.keys(recordAt(spec, field) ?? {})) {
      const prev = owner.get(key);
      if (prev !== undefined) report(['spec', field, key], ValidationCode.conflict, `key ${quote(key)} is also set in spec.${prev}`);
      else owner.set(key, field);
    }
  }
}

function checkStrategy(strategy: Record<string, unknown> | undefined, base: FieldPath, report: Report): void {
  if (!strategy) return;
  for (const f of ['maxUnavailable', 'maxSurge']) {
    const v = strategy[f];
    if (typeof v === 'string' && /^\d+%$/.test(v) && Number(v.slice(0, -1)) > 100) report([...base, f], ValidationCode.conflict, `${quote(v)} is more than 100%`);
  }
  if (isZero(strategy.maxUnavailable) && isZero(strategy.maxSurge)) {
    report([...base, 'maxUnavailable'], ValidationCode.conflict, 'maxUnavailable and maxSurge cannot both be 0: the rollout could never replace a task');
  }
}

function isZero(v: unknown): boolean {
  return v === 0 || v === '0%';
}

