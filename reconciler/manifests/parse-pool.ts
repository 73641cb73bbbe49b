// Parses many manifest files on this thread and on worker threads at once. YAML parsing is most of
// a large load's CPU (10,000 objects in 500 files: ~0.75 of ~1.3 CPU-seconds, js-yaml's event
// parser and its garbage), and files parse independently: on a 2-core machine this thread and one
// worker each take the next file until none is left.
//
//   files ─► SharedArrayBuffer counter ◄─ Atomics.add ─┬─ this thread: parseManifestFile(i) ...
//                                                      └─ worker(s): parseManifestFile(i) ─► postMessage(i, ParsedFile)
//   every worker ended ─► a file nobody delivered (a worker that failed) is parsed here ─► results in file order
//
// A load of few files parses here alone: a worker costs ~30 ms of start-up (a reconcile of a small
// repository, or of the one file a commit changed, must not pay it).
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { parseManifestFile, type ParsedFile } from './parse.ts';
import type { LoadOptions } from './types.ts';

/** PARALLEL_MIN_FILES: below this many files a load parses on its own thread. */
export const PARALLEL_MIN_FILES = 32;
/** MAX_WORKERS bounds the worker threads of one load (each holds a heap of its own while it runs). */
const MAX_WORKERS = 3;

/** ParseJob is one file to parse: its name (relative, for problems) and its bytes. */
export interface ParseJob {
  file: string;
  bytes: Uint8Array;
}

/**
 * WorkerRequest is the one message a parse worker gets: every file's name, and its bytes as
 * data[offsets[i], offsets[i + 1]) of one SharedArrayBuffer (one copy for every worker, not a clone
 * each), the shared next-file counter, the limits.
 */
export interface WorkerRequest {
  files: string[];
  offsets: number[];
  data: Uint8Array;
  next: Int32Array;
  limits: LoadOptions;
}

/** sharedRequest packs `jobs` into a WorkerRequest: their bytes copied once into shared memory. */
function sharedRequest(jobs: ParseJob[], next: Int32Array, limits: LoadOptions): WorkerRequest {
  const offsets = [0];
  for (const j of jobs) offsets.push(offsets.at(-1)! + j.bytes.byteLength);
  const data = new Uint8Array(new SharedArrayBuffer(offsets.at(-1)!));
  jobs.forEach((j, i) => data.set(j.bytes, offsets[i]));
  return { files: jobs.map((j) => j.file), offsets, data, next, limits };
}

/** WorkerResult is one parsed file, by its index in WorkerRequest.jobs. */
export interface WorkerResult {
  index: number;
  parsed: ParsedFile;
}

/** takeNext claims the next unparsed file of `next` (shared by every thread of one load), or -1 when none is left. */
export function takeNext(next: Int32Array, count: number): number {
  const i = Atomics.add(next, 0, 1);
  return i < count ? i : -1;
}

const FROM_SOURCE = import.meta.url.endsWith('.ts');

/**
 * newWorker starts a parse worker thread, which waits for its WorkerRequest. Run from the compiled
 * build it is parse-worker.js next to this file. Run from the TypeScript sources (tests,
 * benchmarks), it is the parse-worker.js of the compiled build that matches them, when there is
 * one (scripts/build-state.mjs decides, as for cli/bin.js): a worker that registers tsx spends ~0.6
 * CPU-seconds starting, a compiled one ~0.15 (a load of 500 files parses in ~0.75). Otherwise, or
 * with GITCELL_FROM_SOURCE=1, the worker registers tsx first (on Node 20 neither hooks registered by
 * tsx's API nor `--import tsx` reach a worker thread).
 */
async function newWorker(): Promise<Worker> {
  const options = { stdout: true, stderr: true };
  if (!FROM_SOURCE) return new Worker(new URL('./parse-worker.js', import.meta.url), options);
  if (process.env.GITCELL_FROM_SOURCE !== '1') {
    const state = (await import(new URL('../../scripts/build-state.mjs', import.meta.url).href)) as { currentBuild(root: string): string | undefined };
    const build = state.currentBuild(fileURLToPath(new URL('../..', import.meta.url)));
    // Not this process's `--import tsx`: the compiled worker needs no loader (tsx would cost ~0.2 CPU-s).
    if (build) return new Worker(join(build, 'reconciler', 'manifests', 'parse-worker.js'), { ...options, execArgv: [] });
  }
  const worker = new URL('./parse-worker.ts', import.meta.url).href;
  const boot = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(worker)}); })`;
  return new Worker(boot, { ...options, eval: true });
}

/** Parser parses files, on worker threads too when it was made for many (parallelParser). */
export interface Parser {
  /** parse returns every job's ParsedFile, in job order; never throws for bad input (parseManifestFile). */
  parse(jobs: ParseJob[], limits?: LoadOptions): Promise<ParsedFile[]>;
  /** close ends the workers that are still running (parse never called, or a failure meanwhile). */
  close(): void;
}

/**
 * parallelParser returns a Parser for about `files` files. For PARALLEL_MIN_FILES or more it starts
 * up to MAX_WORKERS worker threads (one fewer than the machine's cores) at once, so their start-up
 * overlaps the caller's reading of the files; parse() then spreads the files over them and this
 * thread. Whatever a worker does not deliver (it failed to start or died) is parsed here: the result
 * never depends on the workers.
 */
export function parallelParser(files: number): Parser {
  const count = Math.min(MAX_WORKERS, availableParallelism() - 1, Math.floor(files / (PARALLEL_MIN_FILES / 2)));
  const workers = files >= PARALLEL_MIN_FILES && count > 0 ? Array.from({ length: count }, () => startWorker()) : [];
  return {
    async parse(jobs, limits = {}) {
      const results: Array<ParsedFile | undefined> = new Array(jobs.length);
      const next = new Int32Array(new SharedArrayBuffer(4));
      await Promise.all(workers.map((w) => w.ready));
      const request = workers.length > 0 ? sharedRequest(jobs, next, limits) : undefined;
      const ended = workers.map((w) => w.run(request!, (r) => (results[r.index] = r.parsed)));
      // This thread parses too, taking files from the same counter.
      for (let i = takeNext(next, jobs.length); i >= 0; i = takeNext(next, jobs.length)) results[i] = parseManifestFile(jobs[i]!.file, jobs[i]!.bytes, limits);
      await Promise.all(ended);
      return results.map((r, i) => r ?? parseManifestFile(jobs[i]!.file, jobs[i]!.bytes, limits));
    },
    close() {
      for (const w of workers) w.close();
    },
  };
}

/** ParseWorker is one started worker thread: run() gives it the files, close() ends it. */
interface ParseWorker {
  /** ready resolves once the thread was created (or could not be): run() needs it. */
  ready: Promise<void>;
  /** run resolves (never rejects) once the worker ended, however: each parsed file went to `deliver`. */
  run(request: WorkerRequest, deliver: (r: WorkerResult) => void): Promise<void>;
  close(): void;
}

function startWorker(): ParseWorker {
  let exited = false;
  const created = newWorker().catch(() => undefined);
  const exit = created.then((worker) => new Promise<void>((done) => {
    if (!worker) return done();
    // A waiting worker does not keep the process alive (run() holds it), and its failure is not the
    // load's: the files it did not deliver are parsed by the caller.
    worker.unref();
    worker.on('error', () => undefined);
    worker.on('exit', () => {
      exited = true;
      done();
    });
  }));
  let worker: Worker | undefined;
  return {
    ready: created.then((w) => {
      worker = w;
    }),
    run(request, deliver) {
      if (!worker || exited) return exit;
      worker.ref();
      worker.on('message', deliver);
      worker.postMessage(request);
      return exit;
    },
    close() {
      void created.then((w) => (w && !exited ? w.terminate() : undefined));
    },
  };
}
