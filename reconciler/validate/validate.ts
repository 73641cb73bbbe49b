// The validator core: loaded objects in, problems out. No I/O; `locate` (from the loader) turns
// field paths into line:column. The reconciler runs the same function before applying a revision.
import { apiVersionHint, kindHint } from './kubernetes-hints.ts';
import { BUILTIN_KINDS, DEFAULT_NAMESPACE, isBuiltinKind, objectKey, type AnyObject, type BuiltinKind } from '../../api/index.ts';
import { COMMON_SCHEMA, builtinValidators } from '../../crds/index.ts';
import type { FieldPath, LoadResult, LoadedObject, ManifestSource, Problem } from '../manifests/index.ts';
import { checkCronJob, checkDaemonSet, checkJob, checkSecret } from './check-kinds.ts';
import { checkService, claimServiceAddresses, type ClaimIndex } from './check-service.ts';
import { checkReceiver } from './check-receiver.ts';
import { checkSlo, sloWarnings } from './check-slo.ts';
import { ValidationCode, recordAt, stringAt, type Report } from './finding.ts';
import { closest, compareProblems, formatFieldPath, quote } from './format.ts';
import { checkSecretRefs, indexSecret, type SecretIndex } from './references.ts';
import { explainSchemaErrors, type RefResolver } from './schema-errors.ts';
import { buildUserKinds, type UserKind } from './user-kinds.ts';
import { errorMessage } from '../../lib/index.ts';

/** MAX_PROBLEMS_PER_OBJECT caps the problems listed for one object; the rest are counted in one line. */
export const MAX_PROBLEMS_PER_OBJECT = 100;

/** ValidateOptions: `allowPlaintextSecrets` accepts annotated plaintext Secrets (dev only). */
export interface ValidateOptions {
  allowPlaintextSecrets?: boolean;
}

/** ValidObject is an object that passed every check, typed, with where it came from. */
export interface ValidObject {
  object: AnyObject;
  source: ManifestSource;
}

/** ValidationResult lists every problem (sorted by file, line, column), the objects without any, and warnings (which fail nothing). */
export interface ValidationResult {
  problems: Problem[];
  valid: ValidObject[];
  /** what is applied but will not work as meant (an SLO nothing reports) */
  warnings: Problem[];
}

const resolveBuiltinRef: RefResolver = (ref) => {
  const m = /#\/definitions\/([^/]+)$/.exec(ref);
  return m ? ((COMMON_SCHEMA.definitions as Record<string, Record<string, unknown>>)[m[1]!] ?? undefined) : undefined;
};

/**
 * validateManifests checks every loaded object: the schema of its kind (built-in, or defined by a
 * CustomResourceDefinition among the same objects), the per-kind rules (quantities, limits >=
 * requests, cron schedules, sealed Secrets, ...), duplicates, and references to Secrets. The
 * loader's own problems are included, so the result is everything wrong with the revision.
 */
export function validateManifests(load: Pick<LoadResult, 'objects' | 'problems' | 'locate'>, options: ValidateOptions = {}): ValidationResult {
  const { builtin, envelope } = builtinValidators();
  const problems: Problem[] = [...load.problems];
  const failed = new Set<LoadedObject>();

  const suppressed = new Map<LoadedObject, number>();
  const reporterFor = (item: LoadedObject): Report => {
    const kind = stringAt(item.object, 'kind');
    const name = stringAt(recordAt(item.object, 'metadata'), 'name');
    let count = 0;
    return (path: FieldPath, code: string, message: string) => {
      failed.add(item);
      // A generated or garbled object can fail in thousands of places; past the cap, count only.
      if (++count > MAX_PROBLEMS_PER_OBJECT) {
        suppressed.set(item, count - MAX_PROBLEMS_PER_OBJECT);
        return;
      }
      const at = load.locate(item.source, path);
      problems.push({
        code, message, file: at.file, line: at.line, column: at.column, document: item.source.document,
        path: formatFieldPath(path),
        ...(kind !== undefined ? { kind } : {}), ...(name !== undefined ? { name } : {}),
      });
    };
  };
  const reporters = new Map<LoadedObject, Report>(load.objects.map((o) => [o, reporterFor(o)]));
  const where = (o: LoadedObject): string => `${o.source.file}:${o.source.line}:${o.source.column}`;

  const crdItems = load.objects.filter((o) => o.object.kind === 'CustomResourceDefinition');
  const userKinds = buildUserKinds(crdItems.map((o) => ({ object: o.object, where: where(o), report: reporters.get(o)! })));
  const secrets: SecretIndex = new Map();
  for (const o of load.objects) if (o.object.kind === 'Secret') indexSecret(secrets, o.object);

  const seen = new Map<string, LoadedObject>();
  const claims: ClaimIndex = new Map();
  for (const item of load.objects) {
    const report = reporters.get(item)!;
    const obj = item.object;
    const kind = obj.kind;
    if (isBuiltinKind(kind)) {
      const validate = builtin[kind];
      const hint = apiVersionHint(kind, obj.apiVersion);
      if (!validate(obj)) for (const f of explainSchemaErrors(validate.errors, resolveBuiltinRef)) if (!hint || f.path[0] !== 'apiVersion') report(f.path, ValidationCode.schema, f.message);
      if (hint) report(['apiVersion'], ValidationCode.apiVersion, hint);
      checkBuiltin(kind, obj, options, secrets, report);
      if (kind === 'Service') claimServiceAddresses(obj, where(item), claims, report);
    } else {
      if (!envelope(obj)) for (const f of explainSchemaErrors(envelope.errors, resolveBuiltinRef)) report(f.path, ValidationCode.schema, f.message);
      if (typeof kind === 'string' && kind !== '') {
        const user = userKinds.get(kind);
        if (user) checkUserObject(user, obj, report);
        else report(['kind'], ValidationCode.unknownKind, unknownKindMessage(kind, userKinds));
      }
    }
    const name = stringAt(recordAt(obj, 'metadata'), 'name');
    if (typeof kind === 'string' && name !== undefined) {
      const key = objectKey({ kind, metadata: { name, namespace: stringAt(recordAt(obj, 'metadata'), 'namespace') ?? DEFAULT_NAMESPACE } });
      const first = seen.get(key);
      if (first) report(['metadata', 'name'], ValidationCode.duplicate, `${kind} ${quote(name)} is already defined at ${where(first)}`);
      else seen.set(key, item);
    }
  }
  for (const [item, n] of suppressed) {
    const kind = stringAt(item.object, 'kind');
    const name = stringAt(recordAt(item.object, 'metadata'), 'name');
    problems.push({
      code: ValidationCode.tooManyProblems, file: item.source.file, line: item.source.line, column: item.source.column, document: item.source.document, path: '',
      message: `${n} more problem${n === 1 ? '' : 's'} in this object not shown (at most ${MAX_PROBLEMS_PER_OBJECT} per object)`,
      ...(kind !== undefined ? { kind } : {}), ...(name !== undefined ? { name } : {}),
    });
  }
  problems.sort(compareProblems);
  const valid = load.objects.filter((o) => !failed.has(o)).map((o) => ({ object: o.object as unknown as AnyObject, source: o.source }));
  return { problems, valid, warnings: warningsOf(load, valid) };
}

/** BUILTIN_CHECKS are the semantic checks of each built-in kind, past its schema. */
const BUILTIN_CHECKS: Record<BuiltinKind, (obj: Record<string, unknown>, options: ValidateOptions, report: Report) => void> = {
  Job: (obj, _o, report) => checkJob(obj, report),
  DaemonSet: (obj, _o, report) => checkDaemonSet(obj, report),
  CronJob: (obj, _o, report) => checkCronJob(obj, report),
  Secret: (obj, o, report) => checkSecret(obj, { allowPlaintextSecrets: o.allowPlaintextSecrets === true }, report),
  Service: (obj, _o, report) => checkService(obj, report),
  Receiver: (obj, _o, report) => checkReceiver(obj, report),
  SLO: (obj, _o, report) => checkSlo(obj, report),
  CustomResourceDefinition: () => {}, // checked while building the user kinds
};

function checkBuiltin(kind: BuiltinKind, obj: Record<string, unknown>, options: ValidateOptions, secrets: SecretIndex, report: Report): void {
  BUILTIN_CHECKS[kind](obj, options, report);
  checkSecretRefs(kind, obj, secrets, report);
}

/** warningsOf lists the warnings about the valid objects (sloWarnings), located like problems. */
function warningsOf(load: Pick<LoadResult, 'locate'>, valid: readonly ValidObject[]): Problem[] {
  const warnings: Problem[] = [];
  sloWarnings(valid.map(({ object, source }) => ({
    object: object as unknown as Record<string, unknown>,
    warn: (path, code, message) => {
      const at = load.locate(source, path);
      warnings.push({ code, message, file: at.file, line: at.line, column: at.column, document: source.document, path: formatFieldPath(path), kind: object.kind, name: object.metadata.name });
    },
  })));
  return warnings.sort(compareProblems);
}

function checkUserObject(user: UserKind, obj: Record<string, unknown>, report: Report): void {
  const apiVersion = obj.apiVersion;
  const accepted = [...user.versions.keys()].map((v) => `${user.group}/${v}`);
  const version = typeof apiVersion === 'string' && apiVersion.startsWith(`${user.group}/`) ? apiVersion.slice(user.group.length + 1) : undefined;
  if (version === undefined || !user.versions.has(version)) {
    if (typeof apiVersion === 'string') report(['apiVersion'], ValidationCode.apiVersion, `must be ${accepted.map((a) => quote(a)).join(' or ') || 'a served version'} for kind ${user.kind} (got ${quote(apiVersion)})`);
    return;
  }
  const validate = user.versions.get(version);
  if (!validate) return; // the CRD's schema did not compile: reported on the CRD
  // The user's schema describes the object's content; the envelope is gitcell's and checked above.
  const { apiVersion: _a, kind: _k, metadata: _m, ...body } = obj;
  let ok: boolean;
  try {
    ok = validate(body) as boolean;
  } catch (err) {
    // A user schema can recurse forever ({$ref: "#"}); that is the CRD's fault, not a crash.
    report([], ValidationCode.crd, `the schema of kind ${user.kind} (CustomResourceDefinition/${user.crdName}) cannot be evaluated: ${errorMessage(err)}`);
    return;
  }
  if (!ok) {
    const resolve: RefResolver = () => undefined;
    for (const f of explainSchemaErrors(validate.errors, resolve)) report(f.path, ValidationCode.schema, f.message);
  }
}

function unknownKindMessage(kind: string, userKinds: Map<string, UserKind>): string {
  const known = [...BUILTIN_KINDS, ...userKinds.keys()];
  const guess = closest(kind, known);
  const hint = kindHint(kind);
  if (hint) return `unknown kind ${quote(kind)}: ${hint}; known kinds: ${known.join(', ')}`;
  return `unknown kind ${quote(kind)}${guess ? ` (did you mean ${quote(guess)}?)` : ''}; known kinds: ${known.join(', ')}; a CustomResourceDefinition in the repository can define it`;
}
