/**
 * GitcellError is the base of every error gitcell raises on purpose. `code` is stable (tests and
 * callers switch on it), `data` carries the structured facts behind the message. Anything that is
 * not a GitcellError is a bug.
 */
export class GitcellError<Data extends Record<string, unknown> = Record<string, unknown>> extends Error {
  readonly code: string;
  readonly data: Data;

  constructor(code: string, message: string, data: Data = {} as Data, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GitcellError';
    this.code = code;
    this.data = data;
  }
}

/** isGitcellError tells a deliberate, user-facing error from a bug, optionally of one `code`. */
export function isGitcellError(err: unknown, code?: string): err is GitcellError {
  return err instanceof GitcellError && (code === undefined || err.code === code);
}

/** errorMessage renders any thrown value as one line without a stack trace, for users and logs. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
