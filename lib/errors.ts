import type { AgentErrorCode, ErrorCode, GitErrorCode, ImageErrorCode, ManifestErrorCode, NetworkErrorCode, RuntimeErrorCode, SchedulerErrorCode, SecretsErrorCode, StoreErrorCode, UsageErrorCode } from './error-codes.ts';

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

/** UsageError is the one class of the Usage family (a command line or option a user typed is wrong (exit 2)); its code is a UsageErrorCode. */
export class UsageError<Data extends Record<string, unknown> = Record<string, unknown>> extends GitcellError<Data> {
  constructor(code: UsageErrorCode, message: string, data: Data = {} as Data, options?: { cause?: unknown }) {
    super(code, message, data, options);
    this.name = 'UsageError';
  }
}

/** StoreError is the one class of the Store family (NATS JetStream store (store/)); its code is a StoreErrorCode. */
export class StoreError<Data extends Record<string, unknown> = Record<string, unknown>> extends GitcellError<Data> {
  constructor(code: StoreErrorCode, message: string, data: Data = {} as Data, options?: { cause?: unknown }) {
    super(code, message, data, options);
    this.name = 'StoreError';
  }
}

/** ManifestError is the one class of the Manifest family (a manifest in Git is invalid (reconciler/manifests, reconciler/validate): reported per file, field and line); its code is a ManifestErrorCode. */
export class ManifestError<Data extends Record<string, unknown> = Record<string, unknown>> extends GitcellError<Data> {
  constructor(code: ManifestErrorCode, message: string, data: Data = {} as Data, options?: { cause?: unknown }) {
    super(code, message, data, options);
    this.name = 'ManifestError';
  }
}

/** GitError is the one class of the Git family (Git sources, reverts and pushes (reconciler/source, reconciler/git)); its code is a GitErrorCode. */
export class GitError<Data extends Record<string, unknown> = Record<string, unknown>> extends GitcellError<Data> {
  constructor(code: GitErrorCode, message: string, data: Data = {} as Data, options?: { cause?: unknown }) {
    super(code, message, data, options);
    this.name = 'GitError';
  }
}

/** SchedulerError is the one class of the Scheduler family (the scheduler core and its inputs (scheduler/)); its code is a SchedulerErrorCode. */
export class SchedulerError<Data extends Record<string, unknown> = Record<string, unknown>> extends GitcellError<Data> {
  constructor(code: SchedulerErrorCode, message: string, data: Data = {} as Data, options?: { cause?: unknown }) {
    super(code, message, data, options);
    this.name = 'SchedulerError';
  }
}

/** ImageError is the one class of the Image family (images, content and registries (runtime/image, runtime/registry)); its code is a ImageErrorCode. */
export class ImageError<Data extends Record<string, unknown> = Record<string, unknown>> extends GitcellError<Data> {
  constructor(code: ImageErrorCode, message: string, data: Data = {} as Data, options?: { cause?: unknown }) {
    super(code, message, data, options);
    this.name = 'ImageError';
  }
}

/** RuntimeError is the one class of the Runtime family (containers, snapshots and mounts (runtime/container, runtime/snapshot)); its code is a RuntimeErrorCode. */
export class RuntimeError<Data extends Record<string, unknown> = Record<string, unknown>> extends GitcellError<Data> {
  constructor(code: RuntimeErrorCode, message: string, data: Data = {} as Data, options?: { cause?: unknown }) {
    super(code, message, data, options);
    this.name = 'RuntimeError';
  }
}

/** NetworkError is the one class of the Network family (task networking (runtime/network)); its code is a NetworkErrorCode. */
export class NetworkError<Data extends Record<string, unknown> = Record<string, unknown>> extends GitcellError<Data> {
  constructor(code: NetworkErrorCode, message: string, data: Data = {} as Data, options?: { cause?: unknown }) {
    super(code, message, data, options);
    this.name = 'NetworkError';
  }
}

/** SecretsError is the one class of the Secrets family (sealed Secrets and key rings (secrets/, agent secret volumes)); its code is a SecretsErrorCode. */
export class SecretsError<Data extends Record<string, unknown> = Record<string, unknown>> extends GitcellError<Data> {
  constructor(code: SecretsErrorCode, message: string, data: Data = {} as Data, options?: { cause?: unknown }) {
    super(code, message, data, options);
    this.name = 'SecretsError';
  }
}

/** AgentError is the one class of the Agent family (the node agent and its services (agent/)); its code is a AgentErrorCode. */
export class AgentError<Data extends Record<string, unknown> = Record<string, unknown>> extends GitcellError<Data> {
  constructor(code: AgentErrorCode, message: string, data: Data = {} as Data, options?: { cause?: unknown }) {
    super(code, message, data, options);
    this.name = 'AgentError';
  }
}

/** errorMessage renders any thrown value as one line without a stack trace, for users and logs. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
