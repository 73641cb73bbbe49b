/**
 * The agent's journal: one JSON file per task it has taken on, written before each step and
 * atomically (temp + rename), so an agent killed at any point finds on restart what it was doing
 * (starting, stopping, waiting to restart) and finishes it.
 */
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { TaskSpec, TaskState } from '../api/index.ts';
import type { StopReason } from './converge.ts';
import { writeFileAtomic, writeFileAtomicSync } from '../lib/atomic-write.ts';

/** LocalPhase is where a task is in the agent's own lifecycle. */
export type LocalPhase = 'starting' | 'running' | 'backoff' | 'stopping' | 'finished' | 'stopped';

/** LocalTask is one journal entry. */
export interface LocalTask {
  taskId: string;
  templateHash: string;
  /** the spec it was started from: the grace period and probes still apply after the spec is gone */
  spec: TaskSpec;
  phase: LocalPhase;
  /** reported state when it differs from what the phase implies (succeeded, failed) */
  state?: TaskState;
  attempt: number;
  containerId?: string;
  pid?: number;
  ip?: string;
  restarts: number;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  oomKilled?: boolean;
  message?: string;
  /** last readiness verdict, so an agent restart does not flap a ready task to unready */
  ready?: boolean;
  /** crash-loop backoff: last delay and when the next start is due (epoch ms) */
  backoffMs?: number;
  restartAt?: number;
  /** why the running container is being stopped, and when SIGKILL follows SIGTERM (epoch ms) */
  stopReason?: StopReason | 'liveness' | 'startup';
  stopDeadline?: number;
}

/** Journal stores LocalTask entries under `<dir>/<taskId>.json`. */
export class Journal {
  /** the dir was made (or found) once: a mkdir per save cost hollow nodes a syscall per step */
  private made?: Promise<unknown>;

  /**
   * `durable: false` leaves out the two fsyncs per save (file and directory): for the tasks journal,
   * whose entries describe containers that outlive the agent but not the machine. The page cache
   * keeps an entry across an agent crash (kill -9), the case the journal exists for; after a power
   * loss every container is gone too, and an entry lost or left empty then (skipped as unreadable
   * by load) only means the bound task is started again. The fsyncs were 4 per task start on its
   * path, each a round trip through the thread pool and a wait on the disk.
   */
  constructor(readonly dir: string, private readonly opts: { durable?: boolean } = {}) {}

  private ensureDir(): Promise<unknown> {
    // A failed mkdir is not remembered: the next save tries again.
    return (this.made ??= mkdir(this.dir, { recursive: true }).catch((err: unknown) => {
      this.made = undefined;
      throw err;
    }));
  }

  /** load reads every entry; unreadable files are reported through `onBad` and skipped. */
  async load(onBad: (file: string, err: unknown) => void = () => {}): Promise<Map<string, LocalTask>> {
    await this.ensureDir();
    const out = new Map<string, LocalTask>();
    for (const f of await readdir(this.dir)) {
      if (!f.endsWith('.json')) continue;
      try {
        const t = JSON.parse(await readFile(join(this.dir, f), 'utf8')) as LocalTask;
        if (typeof t.taskId !== 'string' || typeof t.phase !== 'string') throw new Error('not a journal entry (taskId, phase)');
        out.set(t.taskId, t);
      } catch (err) {
        onBad(join(this.dir, f), err);
      }
    }
    return out;
  }

  /** save writes one entry atomically. */
  async save(t: LocalTask): Promise<void> {
    await this.ensureDir();
    const file = join(this.dir, `${t.taskId}.json`);
    // Two saves of one task may overlap (a probe verdict during an operation): unique temp names.
    try {
      await this.write(file, JSON.stringify(t));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      // The dir went away under us (removed by hand): make it again, once.
      this.made = undefined;
      await this.ensureDir();
      await this.write(file, JSON.stringify(t));
    }
  }

  /**
   * write replaces one entry file. Without fsyncs the write only reaches the page cache, which
   * takes microseconds, so it is made synchronously: the promise API's open/write/close/rename
   * cost ~0.4 ms of the event loop's CPU per save through FileHandle and the thread pool (10,000
   * hollow nodes: 47 of 155 CPU-s of a hollow process in a 112,499-task commit, 2 saves per task).
   */
  private async write(file: string, data: string): Promise<void> {
    if (this.opts.durable === false) writeFileAtomicSync(file, data, { durable: false });
    else await writeFileAtomic(file, data);
  }

  /** remove deletes one entry (missing is fine). */
  async remove(taskId: string): Promise<void> {
    await rm(join(this.dir, `${taskId}.json`), { force: true });
  }
}
