#!/usr/bin/env node
// `node scripts/build.mjs` compiles gitcell's TypeScript into dist/<fingerprint>/ with tsc, unless
// the build matching the sources is there already (then it costs milliseconds). npm's prepare step,
// scripts/bootstrap.sh, the test runner and the benchmark runner call it, so cli/bin.js runs the
// compiled JavaScript; when the sources changed since, cli/bin.js runs them through tsx instead.
//
//   fingerprint ─(dist/<fp> exists?)─► no: tsc -p tsconfig.build.json --outDir dist/<fp>.tmp-<pid>
//     ─► copy the JSON schemas and generated validators ─► rename to dist/<fp> ─► dist/current
//
// Each build has its own folder: a running `gitcell up` keeps restarting its components from the
// build it started with, and a build in progress is never seen half-written. The newest KEEP
// builds stay; older ones are removed.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { DIST, SOURCE_DIRS, sourceFingerprint, sourceFiles } from './build-state.mjs';

const KEEP = 5;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** build makes dist/<fingerprint> for the sources under `root` if it is missing; returns its folder. */
export function build(quiet = false) {
  const fp = sourceFingerprint(root);
  const dist = join(root, DIST);
  const out = join(dist, fp);
  if (!existsSync(out)) {
    const t0 = Date.now();
    const tmp = `${out}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    const pkg = createRequire(import.meta.url).resolve('typescript/package.json');
    const tsc = join(dirname(pkg), JSON.parse(readFileSync(pkg, 'utf8')).bin.tsc);
    const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', tmp], { stdio: 'inherit', cwd: root });
    if (r.status !== 0) {
      rmSync(tmp, { recursive: true, force: true });
      throw new Error(`tsc failed (exit ${r.status ?? r.signal}): the sources do not compile`);
    }
    // What the compiled modules read next to themselves (crds/: schemas, generated validators;
    // dashboard/static: the front-end the dashboard serves as it is).
    for (const f of sourceFiles(root)) {
      if (!SOURCE_DIRS.includes(f.split('/')[0]) || !(/\.(json|cjs)$/.test(f) || f.startsWith('dashboard/static/'))) continue;
      mkdirSync(dirname(join(tmp, f)), { recursive: true });
      cpSync(join(root, f), join(tmp, f));
    }
    writeFileSync(join(tmp, 'package.json'), '{ "type": "module", "private": true }\n');
    try {
      renameSync(tmp, out);
    } catch (err) {
      // Another build of the same sources finished first: use it.
      rmSync(tmp, { recursive: true, force: true });
      if (!existsSync(out)) throw err;
    }
    if (!quiet) process.stderr.write(`build: compiled into ${join(DIST, fp)} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  }
  const pointer = join(dist, `current.tmp-${process.pid}`);
  writeFileSync(pointer, `${fp}\n`);
  renameSync(pointer, join(dist, 'current'));
  prune(dist, fp);
  return out;
}

function prune(dist, keep) {
  const builds = readdirSync(dist, { withFileTypes: true })
    .filter((e) => e.isDirectory() && /^[0-9a-f]{16}$/.test(e.name) && e.name !== keep)
    .map((e) => ({ name: e.name, mtime: statSync(join(dist, e.name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  for (const b of builds.slice(KEEP - 1)) rmSync(join(dist, b.name), { recursive: true, force: true });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    build(process.argv.includes('--quiet'));
  } catch (err) {
    process.stderr.write(`build: ${err.message}\n`);
    process.exit(1);
  }
}
