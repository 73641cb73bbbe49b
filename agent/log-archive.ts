/**
 * LogArchive keeps the logs of containers the agent removes: the previous attempt of a restarted
 * task (`logs --previous`) and the last attempt of a task that is gone (a finished batch task, a
 * CronJob run), up to a retention limit by count and bytes, oldest finished first.
 *
 *   restart: runStart ─► archive(previous attempt) ─► remove its container
 *   forget:  forget   ─► archive(last attempt)     ─► remove its container
 *   ROOT/<taskId>.<attempt>/{container.log* (or the older stdout.log*, stderr.log*), meta.json}   (hard links, copies across filesystems)
 *
 * The files keep runtime/container's log format, so logs.ts reads an archived attempt like a live one.
 */
import { copyFileSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '../lib/index.ts';

/** ArchivedLog is one attempt's entry: which task and job it was, when it ended, how big it is. */
export interface ArchivedLog {
  taskId: string;
  attempt: number;
  jobKey: string;
  node: string;
  exitCode?: number;
  archivedAt: string;
  /** order of archiving on this node (times can tie) */
  seq: number;
  bytes: number;
  /** the entry's directory */
  dir: string;
}

/** LogRetention bounds the archive: at most `maxEntries` attempts and `maxBytes` of log files. */
export interface LogRetention {
  maxEntries: number;
  maxBytes: number;
}

/** DEFAULT_LOG_RETENTION: 200 attempts, 256 MiB per node. */
export const DEFAULT_LOG_RETENTION: LogRetention = { maxEntries: 200, maxBytes: 256 * 2 ** 20 };

const ENTRY = /^(.+)\.(\d+)$/;
const LOG_FILE = /^((stdout|stderr)\.log(\.\d+)?|container\.log(\.\d+|\.live)?)$/;

/** LogArchive: see the file comment. Synchronous file operations: entries are few and small. */
export class LogArchive {
  private readonly retention: LogRetention;

  constructor(readonly root: string, readonly node: string, retention: Partial<LogRetention> = {}, private readonly warn: (msg: string) => void = () => {}) {
    this.retention = { ...DEFAULT_LOG_RETENTION, ...retention };
  }

  /**
   * archive keeps the log files of `logDir` (a container's log directory) as attempt `attempt` of
   * `taskId`, then trims the archive to its retention. Never throws: losing an old log must not
   * stop a task from restarting or being removed (a warning says what failed).
   */
  archive(logDir: string, t: { taskId: string; attempt: number; jobKey: string; exitCode?: number }): void {
    try {
      const seq = this.entries().reduce((m, e) => Math.max(m, e.seq), 0) + 1;
      const dir = join(this.root, `${t.taskId}.${t.attempt}`);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      let bytes = 0;
      for (const name of readdirSync(logDir).filter((n) => LOG_FILE.test(n))) {
        const from = join(logDir, name);
        const to = join(dir, name);
        try {
          linkSync(from, to);
        } catch {
          copyFileSync(from, to);
        }
        bytes += statSync(to).size;
      }
      const meta = { taskId: t.taskId, attempt: t.attempt, jobKey: t.jobKey, node: this.node, ...(t.exitCode !== undefined ? { exitCode: t.exitCode } : {}), archivedAt: new Date().toISOString(), seq, bytes };
      writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta));
      this.trim();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.warn(`log archive: keeping the log of ${t.taskId} attempt ${t.attempt} failed: ${errorMessage(err)}`);
    }
  }

  /** entries lists the archive, oldest archived first. */
  entries(): ArchivedLog[] {
    let names: string[];
    try {
      names = readdirSync(this.root);
    } catch {
      return [];
    }
    const out: ArchivedLog[] = [];
    for (const name of names) {
      if (!ENTRY.test(name)) continue;
      const dir = join(this.root, name);
      try {
        const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Omit<ArchivedLog, 'dir'>;
        out.push({ ...meta, dir });
      } catch {
        // half-written (an agent killed mid-archive): gone at the next trim
        rmSync(dir, { recursive: true, force: true });
      }
    }
    return out.sort((a, b) => a.seq - b.seq);
  }

  /**
   * find returns the archived attempt of `taskId` to show: the newest one, or with `before` the
   * newest older than that attempt (`logs --previous` of a task that still runs attempt `before`).
   */
  find(taskId: string, before?: number): ArchivedLog | undefined {
    const mine = this.entries().filter((e) => e.taskId === taskId && (before === undefined || e.attempt < before));
    return mine.sort((a, b) => a.attempt - b.attempt).at(-1);
  }

  /** tasksOf lists the tasks with archived logs whose job key starts with `jobKeyPrefix`, by task id. */
  tasksOf(jobKeyPrefix: string): { taskId: string; jobKey: string }[] {
    const byId = new Map(this.entries().filter((e) => e.jobKey.startsWith(jobKeyPrefix)).map((e) => [e.taskId, e.jobKey]));
    return [...byId].sort(([a], [b]) => (a < b ? -1 : 1)).map(([taskId, jobKey]) => ({ taskId, jobKey }));
  }

  /** trim removes the oldest entries until the archive fits its retention. */
  trim(): void {
    const all = this.entries();
    let bytes = all.reduce((n, e) => n + e.bytes, 0);
    let count = all.length;
    for (const e of all) {
      if (count <= this.retention.maxEntries && bytes <= this.retention.maxBytes) break;
      rmSync(e.dir, { recursive: true, force: true });
      count--;
      bytes -= e.bytes;
    }
  }
}
