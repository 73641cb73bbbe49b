// What the compiled build of gitcell is and whether it matches the sources. Plain JavaScript with
// no dependencies: cli/bin.js reads it before anything else is loaded, on every start.
//
//   sources (every file under SOURCE_DIRS, the tsconfigs, the build scripts) ─stat─► fingerprint
//   dist/current ─► "<fingerprint>"  ─►  dist/<fingerprint>/cli/entry.js   (when the two agree)
//
// The fingerprint covers path, size and modification time of each file: reading stats costs a few
// milliseconds, hashing contents would cost more on every CLI start. A changed, added or removed
// source file changes it, so a build never runs code older than the sources it stands for.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** SOURCE_DIRS are the folders compiled into dist/ (tests and benchmarks run through tsx). */
export const SOURCE_DIRS = ['api', 'lib', 'secrets', 'store', 'scheduler', 'reconciler', 'agent', 'runtime', 'crds', 'cli', 'dashboard'];

/** BUILD_INPUTS are the single files that change what the build makes. */
export const BUILD_INPUTS = ['tsconfig.json', 'tsconfig.build.json', 'package.json', 'scripts/build.mjs', 'scripts/build-state.mjs'];

/** DIST is the folder of the builds, below the repository root. */
export const DIST = 'dist';

function walk(root, rel, out) {
  let entries;
  try {
    entries = readdirSync(join(root, rel), { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const path = `${rel}/${e.name}`;
    if (e.isDirectory()) walk(root, path, out);
    else if (e.isFile() && !e.name.endsWith('.md')) out.push(path);
  }
}

/** sourceFiles lists the files the build depends on, relative to `root`, in a stable order. */
export function sourceFiles(root) {
  const out = [];
  for (const dir of SOURCE_DIRS) walk(root, dir, out);
  return [...out.sort(), ...BUILD_INPUTS];
}

/** sourceFingerprint is 16 hex characters naming the current state of the sources under `root`. */
export function sourceFingerprint(root) {
  const h = createHash('sha256');
  for (const f of sourceFiles(root)) {
    let s;
    try {
      s = statSync(join(root, f));
    } catch {
      h.update(`${f}\0-\n`);
      continue;
    }
    h.update(`${f}\0${s.size}\0${s.mtimeMs}\n`);
  }
  return h.digest('hex').slice(0, 16);
}

/** currentBuild is the folder of the build matching the sources under `root`, or undefined (none, or stale). */
export function currentBuild(root) {
  let current;
  try {
    current = readFileSync(join(root, DIST, 'current'), 'utf8').trim();
  } catch {
    return undefined;
  }
  return current === sourceFingerprint(root) ? join(root, DIST, current) : undefined;
}
