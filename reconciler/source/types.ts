// Types of Git sources: where the reconciler learns about new commits of the watched branch.
import type { GitAuth, HttpCredentials, TransportLimits } from '../git/transport.ts';

/** Credentials for HTTP basic auth against a remote repository (a token is sent as the password). */
export type GitCredentials = HttpCredentials;

/** SourceOptions describe what to follow: a local path or an http(s) URL, a branch and a sub-path. */
export interface SourceOptions {
  /** repo is a local repository path (bare or with a working tree), an http(s):// URL or an SSH remote (ssh://, user@host:path). */
  repo: string;
  /** branch to follow; default "main". */
  branch?: string;
  /** subPath is the folder of the repository holding the manifests; default the root (""). */
  subPath?: string;
  /** credentialsFile is a YAML/JSON file with `username`+`password` or `token` (http(s) remotes). */
  credentialsFile?: string;
  /** auth for a remote (SSH deploy key and pinned host keys, or HTTP credentials); credentialsFile adds HTTP ones. */
  auth?: GitAuth;
  /** limits of every fetch and push (git's heap, the pack size, the deadline); DEFAULT_TRANSPORT_LIMITS. */
  transportLimits?: TransportLimits;
  /** stateDir holds the clone cache of a remote repository (`${stateDir}/git-cache/...`). */
  stateDir?: string;
  /** pollIntervalMs between fetches of a remote repository; default 60 s, with ±10 % jitter. */
  pollIntervalMs?: number;
  /** safetyPollMs re-reads a local branch tip now and then in case a file event was lost; default 10 s. */
  safetyPollMs?: number;
}

/** Revision is one commit of the watched branch, as seen by a source. */
export interface Revision {
  /** sha is the full commit id. */
  sha: string;
  branch: string;
  /** seenAt is when the source first saw this commit at the branch tip (ms since epoch). */
  seenAt: number;
}

/** RevisionCallback receives each new branch tip once (deduplicated by sha). */
export type RevisionCallback = (revision: Revision) => void;

/**
 * Source follows one branch of one repository. `gitdir` is where commits can be read with
 * isomorphic-git (the repository itself, or the clone cache of a remote); `remoteUrl` is set for
 * remote repositories, where commits gitcell makes (reverts) must be pushed.
 */
export interface Source {
  readonly kind: 'local' | 'remote';
  readonly gitdir: string;
  /** dir is the working tree of a local non-bare repository (undefined for bare and remote). */
  readonly dir: string | undefined;
  readonly branch: string;
  readonly subPath: string;
  readonly remoteUrl: string | undefined;
  /** auth is how a remote is fetched from and pushed to (undefined: anonymous, or a local repository). */
  readonly auth: GitAuth | undefined;
  /** transportLimits bound each fetch and push of a remote. */
  readonly transportLimits: TransportLimits | undefined;
  /** trackingRef is the ref that holds the branch tip in `gitdir` (refs/heads/B or refs/remotes/origin/B). */
  readonly trackingRef: string;
  /** start begins following; the current tip is emitted once it is known. */
  start(onRevision: RevisionCallback): Promise<void>;
  /** refresh reads (local) or fetches (remote) the tip now, emits it if new, and returns it. */
  refresh(): Promise<string | undefined>;
  /** current is the last tip seen. */
  current(): string | undefined;
  stop(): Promise<void>;
}
