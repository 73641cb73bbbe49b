import type { AnyObject } from '../../api/index.ts';
import { DEFAULT_NAMESPACE, objectKey } from '../../api/index.ts';
import { errorMessage, isGitcellError, ErrorCodes } from '../../lib/index.ts';
import type { LoadResult } from '../manifests/index.ts';
import { resolveTaskTemplate, secretsUsedBy } from '../template/index.ts';
import { validateManifests, type ValidateOptions } from '../validate/index.ts';
import type { ValidationMessage } from './sync.ts';
import { isCronJob, isDaemonSet, isJob, secretVersionOf } from './workloads.ts';

/** Located is a validated object with where it was written. */
export interface Located {
  object: AnyObject;
  source?: { file: string; line: number; column: number };
}

/** BuildResult is the desired objects of a revision, or the problems that stop it. */
export interface BuildResult {
  objects: AnyObject[];
  problems: ValidationMessage[];
}

/**
 * buildDesired turns validated objects into the revision's desired objects and checks what only
 * the whole revision can tell: every template resolves (quantities, named probe ports), no object
 * is defined twice, and every Secret a template uses exists in the revision. Pure.
 */
export function buildDesired(items: readonly Located[]): BuildResult {
  const problems: ValidationMessage[] = [];
  const seen = new Map<string, Located>();
  const secrets = new Map<string, string>();
  for (const it of items) {
    const key = objectKey(it.object);
    const first = seen.get(key);
    if (first) {
      problems.push(problem(it, ErrorCodes.DuplicateObject, `${key} is also defined at ${first.source?.file ?? '?'}:${first.source?.line ?? 0}`));
      continue;
    }
    seen.set(key, it);
    if (it.object.kind === 'Secret') secrets.set(`${it.object.metadata.namespace ?? DEFAULT_NAMESPACE}/${it.object.metadata.name}`, secretVersionOf(it.object));
  }
  for (const it of seen.values()) {
    const o = it.object;
    const ns = o.metadata.namespace ?? DEFAULT_NAMESPACE;
    const tpl = isJob(o) || isDaemonSet(o) ? { t: o.spec.template, type: isJob(o) ? o.spec.type : 'service', field: 'spec.template' } : isCronJob(o) ? { t: o.spec.jobTemplate.template, type: 'batch', field: 'spec.jobTemplate.template' } : undefined;
    if (!tpl) continue;
    try {
      resolveTaskTemplate(tpl.t, { type: tpl.type as 'service' | 'batch', field: tpl.field });
    } catch (err) {
      problems.push(problem(it, isGitcellError(err) ? err.code : ErrorCodes.TemplateInvalid, errorMessage(err), isGitcellError(err) ? String(err.data.field ?? '') : undefined));
    }
    const used = secretsUsedBy(tpl.t);
    for (const name of new Set(used)) {
      if (!secrets.has(`${ns}/${name}`)) problems.push(problem(it, ErrorCodes.SecretNotFound, `${tpl.field} uses Secret ${ns}/${name}, which this revision does not define`));
    }
  }
  return { objects: problems.length ? [] : [...seen.values()].map((l) => l.object), problems };
}

function problem(it: Located, code: string, message: string, path?: string): ValidationMessage {
  return {
    file: it.source?.file ?? '',
    line: it.source?.line ?? 0,
    column: it.source?.column ?? 0,
    code,
    message,
    object: objectKey(it.object),
    ...(path ? { path } : {}),
  };
}

/** ValidatorOutput is the shape of the foundation validator's result (validateManifests). */
export interface ValidatorOutput {
  problems: readonly { file: string; line: number; column: number; code: string; message: string; kind?: string; name?: string; path?: string }[];
  valid: readonly { object: AnyObject; source: { file: string; line: number; column: number } }[];
}

/** toValidatedRevision turns the validator's result into the validate phase's output. */
export function toValidatedRevision(r: ValidatorOutput): { objects: Located[]; problems: ValidationMessage[] } {
  return {
    objects: r.valid.map((v) => ({ object: v.object, source: { file: v.source.file, line: v.source.line, column: v.source.column } })),
    problems: r.problems.map((p) => ({
      file: p.file,
      line: p.line,
      column: p.column,
      code: p.code,
      message: p.message,
      ...(p.kind && p.name ? { object: `${p.kind}/${p.name}` } : {}),
      ...(p.path ? { path: p.path } : {}),
    })),
  };
}

/**
 * validateLoad is the validate phase for manifests read by the loader: the foundation's validator
 * (schemas, per-kind rules, references; the loader's own problems included) turned into the
 * phase's output. `allowPlaintextSecrets` is for dev repositories only.
 */
export function validateLoad(load: Pick<LoadResult, 'objects' | 'problems' | 'locate'>, options: ValidateOptions = {}): { objects: Located[]; problems: ValidationMessage[] } {
  return toValidatedRevision(validateManifests(load, options));
}
