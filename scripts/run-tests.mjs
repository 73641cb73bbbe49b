#!/usr/bin/env node
// Runs the test suite with node:test through tsx. Node 20's --test takes no globs, so the files are
// collected here. `--unit` runs only test/unit (fast, no root; the agent orchestration tests start a nats-server); otherwise everything.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { build } from './build.mjs';

const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const filters = args.filter((a) => !a.startsWith('--'));

function collect(dir) {
  let out = [];
  let entries;
  try { entries = readdirSync(dir); } catch { return out; }
  for (const name of entries.sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out = out.concat(collect(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

let files = collect(unitOnly ? 'test/unit' : 'test');
if (filters.length) files = files.filter((f) => filters.some((p) => f.includes(p)));
if (files.length === 0) {
  console.error('run-tests: no test files matched');
  process.exit(1);
}
// Tests that run cli/bin.js run the compiled build of these very sources (bin.js would fall back
// to tsx for sources changed during the run).
try {
  build();
} catch (err) {
  process.stderr.write(`build: ${err.message}; tests that run cli/bin.js run the TypeScript through tsx\n`);
}
// Integration tests mostly wait on servers and processes, so run a few files at once even on 2 cores.
const concurrency = process.env.GITCELL_TEST_CONCURRENCY ?? (unitOnly ? '2' : '3');
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
