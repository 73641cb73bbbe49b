// Types of scripts/build-state.mjs (plain JavaScript: cli/bin.js reads it before tsx or a build is loaded).

/** SOURCE_DIRS are the folders compiled into dist/ (tests and benchmarks run through tsx). */
export declare const SOURCE_DIRS: readonly string[];
/** BUILD_INPUTS are the single files that change what the build makes. */
export declare const BUILD_INPUTS: readonly string[];
/** DIST is the folder of the builds, below the repository root. */
export declare const DIST: string;
/** sourceFiles lists the files the build depends on, relative to `root`, in a stable order. */
export declare function sourceFiles(root: string): string[];
/** sourceFingerprint is 16 hex characters naming the current state of the sources under `root`. */
export declare function sourceFingerprint(root: string): string;
/** currentBuild is the folder of the build matching the sources under `root`, or undefined (none, or stale). */
export declare function currentBuild(root: string): string | undefined;
