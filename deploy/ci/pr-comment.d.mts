// Types of deploy/ci/pr-comment.mjs (plain JavaScript: CI runs it from a checkout without a build).

/** MAX_BODY bounds a comment body (GitHub allows 65,536 characters). */
export declare const MAX_BODY: number;
/** markerOf is the hidden HTML comment that finds the comment again. */
export declare function markerOf(name?: string): string;
/** ReviewResult is one command's exit code and output. */
export interface CommandResult { code: number; output: string }
/** buildBody renders the comment body. */
export declare function buildBody(r: { marker: string; ref: string; base: string; commit: string; validate: CommandResult; plan: CommandResult }): string;
/** commentAction: update the first comment carrying the marker, else create one. */
export declare function commentAction(comments: { id: number | string; body?: string }[], marker: string): { action: 'create' } | { action: 'update'; id: number | string };
/** review runs validate and plan in a repository and returns the body and whether CI should fail. */
export declare function review(o: { base: string; ref?: string; repo?: string; path?: string; marker?: string; gitcell?: string }): Promise<{ body: string; failed: boolean }>;
/** parseArgs reads the command line (--name value pairs). */
export declare function parseArgs(argv: string[]): Record<string, string>;
