import type { ErrorCode, ErrorFamily, FamilyCode } from './error-codes.ts';

/**
 * GitcellError is the base of every error gitcell raises on purpose. `code` is stable (tests and
 * callers switch on it), `data` carries the structured facts behind the message. Anything that is
 * not a GitcellError is a bug. Codes come from the index (error-codes.ts); new code raises the
 * error class of its family (StoreError, ImageError, ...), which accepts only that family's codes.
 */
export class GitcellError<Data extends Record<string, unknown> = Record<string, unknown>> extends Error {
  readonly code: ErrorCode;
  readonly data: Data;

  constructor(code: ErrorCode, message: string, data: Data = {} as Data, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GitcellError';
    this.code = code;
    this.data = data;
  }
}

/** isGitcellError tells a deliberate, user-facing error from a bug, optionally of one `code`. */
export function isGitcellError(err: unknown, code?: ErrorCode): err is GitcellError {
  return err instanceof GitcellError && (code === undefined || err.code === code);
}

/** FamilyError is the class of one family of the index: a GitcellError whose code is one of `C`. */
export type FamilyError<C extends ErrorCode> = GitcellError & { readonly code: C };

/** FamilyErrorClass builds a family's errors; `instanceof` tells the family apart. */
export interface FamilyErrorClass<C extends ErrorCode> {
  new (code: C, message: string, data?: Record<string, unknown>, options?: { cause?: unknown }): FamilyError<C>;
}

/** family builds the error class of family `F`, named `${F}Error` (its `instanceof` and its `name`). */
function family<F extends ErrorFamily>(familyName: F): FamilyErrorClass<FamilyCode<F>> {
  type C = FamilyCode<F>;
  const name = `${familyName}Error`;
  const cls = class extends GitcellError {
    constructor(code: C, message: string, data: Record<string, unknown> = {}, options?: { cause?: unknown }) {
      super(code, message, data, options);
      this.name = name;
    }
  };
  Object.defineProperty(cls, 'name', { value: name });
  return cls as unknown as FamilyErrorClass<C>;
}

/** UsageError: the Usage family (a command line or option a user typed is wrong (exit 2)). */
export const UsageError = family('Usage');
/** StoreError: the Store family (NATS JetStream store (store/)). */
export const StoreError = family('Store');
/** ManifestError: the Manifest family (a manifest in Git is invalid (reconciler/manifests, reconciler/validate): reported per file, field and line). */
export const ManifestError = family('Manifest');
/** GitError: the Git family (Git sources, reverts and pushes (reconciler/source, reconciler/git)). */
export const GitError = family('Git');
/** SchedulerError: the Scheduler family (the scheduler core and its inputs (scheduler/)). */
export const SchedulerError = family('Scheduler');
/** ImageError: the Image family (images, content and registries (runtime/image, runtime/registry)). */
export const ImageError = family('Image');
/** RuntimeError: the Runtime family (containers, snapshots and mounts (runtime/container, runtime/snapshot)). */
export const RuntimeError = family('Runtime');
/** NetworkError: the Network family (task networking (runtime/network)). */
export const NetworkError = family('Network');
/** SecretsError: the Secrets family (sealed Secrets and key rings (secrets/, agent secret volumes)). */
export const SecretsError = family('Secrets');
/** ReconcileError: the Reconcile family (how a reconcile of a revision ends early: StalledError, AbortedError in reconciler/apply). */
export const ReconcileError = family('Reconcile');
/** AgentError: the Agent family (the node agent and its services (agent/)). */
export const AgentError = family('Agent');

/** errorMessage renders any thrown value as one line without a stack trace, for users and logs. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
