#!/usr/bin/env node
// Runs the test suite with node:test through tsx. Node 20's --test takes no globs, so the files are
// collected here. `--unit` runs only test/unit (fast, no root; the agent orchestration tests start a
// nats-server); otherwise everything.
//
// Each file runs in its own process group with a deadline (GITCELL_TEST_FILE_TIMEOUT_S, default 1800,
// above the longest test's own timeout, 25 min for e2e/up at load 40):
// node:test waits forever for a file whose process never exits (a child left open keeps it alive),
// and one such file once ate 500 s of CI's budget. A file past its deadline is killed with its
// children and counted as failed. Output is printed per file when it ends, so files never interleave.
//
// Files run in path order, except that a file whose first line says `run-tests: start-early` starts
// before the others: a long file started last would end minutes after the rest of the suite.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
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
const early = (f) => /run-tests: start-early/.test(readFileSync(f, 'utf8').slice(0, 200).split('\n')[0]);
files = [...files.filter(early), ...files.filter((f) => !early(f))];
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
const concurrency = Number(process.env.GITCELL_TEST_CONCURRENCY ?? (unitOnly ? '2' : '3'));
const fileTimeoutMs = Number(process.env.GITCELL_TEST_FILE_TIMEOUT_S ?? '1800') * 1000;
// SIGTERM first, so a file's `gitcell up` stops its agents and their containers (36 s at load 30).
const KILL_GRACE_MS = 60_000;
const stream = files.length === 1;
const running = new Set();
const totals = { tests: 0, pass: 0, fail: 0, cancelled: 0, skipped: 0, todo: 0 };
const results = [];

function killGroup(child, signal) {
  try { process.kill(-child.pid, signal); } catch { /* already gone */ }
}

function addTotals(output) {
  for (const key of Object.keys(totals)) {
    const m = output.match(new RegExp(`^ℹ ${key} (\\d+)$`, 'm'));
    if (m) totals[key] += Number(m[1]);
  }
}

/**
 * failureDetail is the part of a failed file's output worth repeating under the summary: the spec
 * reporter's "failing tests" section (or else the output's tail), capped, so a log viewer that shows
 * only the end of a long run still shows why.
 */
function failureDetail(text) {
  const at = text.lastIndexOf('✖ failing tests:');
  const lines = (at >= 0 ? text.slice(at) : text).trimEnd().split('\n');
  return (lines.length > FAILURE_LINES ? ['…', ...lines.slice(-FAILURE_LINES)] : lines).join('\n');
}
const FAILURE_LINES = 120;

function runFile(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--test', '--test-reporter=spec', file],
      { stdio: stream ? 'inherit' : ['ignore', 'pipe', 'pipe'], detached: true },
    );
    running.add(child);
    const chunks = [];
    child.stdout?.on('data', (c) => chunks.push(c));
    child.stderr?.on('data', (c) => chunks.push(c));
    let timedOut = false;
    let killTimer;
    const deadline = setTimeout(() => {
      timedOut = true;
      killGroup(child, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(child, 'SIGKILL'), KILL_GRACE_MS);
    }, fileTimeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(deadline);
      clearTimeout(killTimer);
      killGroup(child, 'SIGKILL'); // whatever the file left behind in its group
      running.delete(child);
      const output = Buffer.concat(chunks).toString('utf8');
      const seconds = (Date.now() - started) / 1000;
      const ok = code === 0 && !timedOut;
      let text = output;
      if (timedOut) text += `\nrun-tests: ${file} did not end within ${fileTimeoutMs / 1000} s; killed\n`;
      else if (!ok) text += `\nrun-tests: ${file} exited with ${signal ?? code}\n`;
      if (!stream) process.stdout.write(`\n▶ ${file} (${seconds.toFixed(1)} s)\n${text}`);
      addTotals(output);
      results.push({ file, ok, seconds, timedOut, failure: ok ? '' : failureDetail(text) });
      resolve();
    });
  });
}

function stopAll() {
  for (const child of running) killGroup(child, 'SIGTERM');
  setTimeout(() => {
    for (const child of running) killGroup(child, 'SIGKILL');
    process.exit(130);
  }, KILL_GRACE_MS).unref();
}
process.on('SIGINT', stopAll);
process.on('SIGTERM', stopAll);

const queue = [...files];
async function worker() {
  for (let file = queue.shift(); file; file = queue.shift()) await runFile(file);
}
const suiteStart = Date.now();
await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));

const failed = results.filter((r) => !r.ok);
const slowest = [...results].sort((a, b) => b.seconds - a.seconds).slice(0, 8);
if (!stream) {
  for (const r of failed) process.stdout.write(`\n✖ ${r.file}: why (repeated from its output above)\n${r.failure}\n`);
  process.stdout.write('\nrun-tests summary\n');
  for (const [key, n] of Object.entries(totals)) process.stdout.write(`ℹ ${key} ${n}\n`);
  process.stdout.write(`ℹ files ${results.length}, failed ${failed.length}, ${((Date.now() - suiteStart) / 1000).toFixed(0)} s\n`);
  process.stdout.write(`slowest: ${slowest.map((r) => `${r.file} ${r.seconds.toFixed(0)} s`).join(', ')}\n`);
  for (const r of failed) process.stdout.write(`✖ ${r.file}${r.timedOut ? ' (deadline)' : ''}\n`);
}
process.exit(failed.length ? 1 : 0);
