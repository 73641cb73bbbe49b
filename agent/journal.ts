/**
 * The agent's journal: its entry for each task it has taken on, written before each step, so an agent
 * killed at any point finds on restart what it was doing (starting, stopping, waiting to restart) and
 * finishes it.
 *
 * On disk it is one append-only file, `<dir>/journal.log`: a line per save (the whole entry, JSON) or
 * removal (`{"taskId":…,"removed":true}`); on load the last line of a task wins. A save appends one
 * line (and fsyncs when durable) and resolves once it is written; the lines saved in one event-loop
 * turn go in one write at its end (setImmediate), where a file per entry (temp file, write, rename) cost a hollow
 * process 12 of 103 CPU-s in a 10,000-node commit (21 µs per save on tmpfs, 260 µs on ext4 with the
 * machine busy; an append is 14 µs on either). The log is compacted (the live entries written to a new file
 * renamed over it, lib/atomic-write) on load and once it holds more than twice as many lines as live
 * entries (plus 64), so it stays a few entries long per task. A line is written whole by one write of
 * a file opened for appending: a killed agent leaves whole lines (a save it was waiting for may be
 * missing, never the line of a step it took); a line a power loss tore is reported
 * as unreadable and skipped (compaction on load leaves a clean file). Entry files of older agents
 * (`<dir>/<taskId>.json`) are read on load and folded into the log.
 *
 * The log's descriptor stays open between saves (agent/append-files.ts: process-wide, at most
 * JOURNAL_FILES_CAP open, closed after 30 to 60 s unused, when a compaction replaced the file, and at
 * `close`): opening and closing it per line cost a hollow process more than the line's write.
 *
 *   load:   <taskId>.json files (older agents) + journal.log lines (last wins) ─► compact ─► open for append
 *   save:   queue line ─► (end of the turn) the turn's lines in one append on the kept descriptor (fsync when durable)
 *           ─► compact when lines > 2 x live + 64 ─► every save of the turn resolves
 *   remove: append removal line
 *   compact: new file renamed over the log ─► its old descriptor closed (the next line opens the new one)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { TaskSpec, TaskState } from '../api/index.ts';
import type { StopReason } from './converge.ts';
import { writeFileAtomicSync } from '../lib/atomic-write.ts';
import { AppendFiles } from './append-files.ts';
import { taskEncoder } from '../store/index.ts';

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

/** JOURNAL_LOG is the journal's file in its dir. */
export const JOURNAL_LOG = 'journal.log';

/** compaction is due once the log holds more than twice as many lines as live entries, plus this */
const COMPACT_SLACK = 64;

/**
 * JOURNAL_FILES_CAP is how many journal descriptors a process keeps open: above the 9,500 live nodes
 * of the 10,000-node benchmark's hollow process (one journal each; below that, every pass would
 * close one to open another), below its descriptor limit (20,000 on the bench machines; EMFILE
 * closes half anyway).
 */
export const JOURNAL_FILES_CAP = 12_288;

/** the journals' kept descriptors, shared by every journal of the process */
const journalFiles = new AppendFiles({ cap: JOURNAL_FILES_CAP, idleMs: 30_000 });

/** Journal stores LocalTask entries in `<dir>/journal.log` (see the file comment). */
export class Journal {
  /**
   * ids of the live entries (to know when to compact); the entries themselves stay on disk only: a
   * compaction reads the log back, so the journal of completed tasks (7 days of them) costs no memory
   */
  private readonly live = new Set<string>();
  /** lines in the log file now */
  private lines = 0;
  private opened?: Promise<void>;
  /** lines saved this event-loop turn, written together at its end (`flush`) */
  private pending: string[] = [];
  /** settles once `pending` is written: what every save of this turn awaits */
  private flushed?: Promise<void>;

  /**
   * `durable: false` leaves out the fsync per save: for the tasks journal, whose entries describe
   * containers that outlive the agent but not the machine. The page cache keeps an entry across an
   * agent crash (kill -9), the case the journal exists for; after a power loss every container is
   * gone too, and an entry lost then only means the bound task is started again.
   */
  constructor(readonly dir: string, private readonly opts: { durable?: boolean; files?: AppendFiles } = {}) {
    this.file = join(dir, JOURNAL_LOG);
  }

  /** the kept descriptors this journal appends through: the process's, or a test's own */
  private get files(): AppendFiles {
    return this.opts.files ?? journalFiles;
  }

  /** close closes the log's descriptor (the agent stops); a later save opens it again. */
  close(): void {
    if (this.pending.length > 0) this.flush();
    this.files.release(this.file);
  }

  /** the log's path, joined once (a join per flush was 2 % of a hollow process's allocations) */
  private readonly file: string;

  /** load reads every entry; unreadable ones are reported through `onBad` and skipped. */
  async load(onBad: (file: string, err: unknown) => void = () => {}): Promise<Map<string, LocalTask>> {
    let entries = new Map<string, LocalTask>();
    const opened = this.open(onBad).then((m) => void (entries = m));
    this.opened = opened.catch((err: unknown) => {
      this.opened = undefined;
      throw err;
    });
    await this.opened;
    return entries;
  }

  /** save records one entry (one line appended). */
  async save(t: LocalTask): Promise<void> {
    await this.ready();
    this.live.add(t.taskId);
    await this.append(entryLine(t));
  }

  /** remove forgets one entry (missing is fine). */
  async remove(taskId: string): Promise<void> {
    await this.ready();
    if (!this.live.delete(taskId)) return;
    await this.append(JSON.stringify({ taskId, removed: true }));
  }

  private ready(): Promise<void> {
    // A failed open is not remembered: the next save tries again.
    return (this.opened ??= this.open(() => {}).then(() => undefined, (err: unknown) => {
      this.opened = undefined;
      throw err;
    }));
  }

  /** open reads what is on disk and writes it back as a compact log. */
  private async open(onBad: (file: string, err: unknown) => void): Promise<Map<string, LocalTask>> {
    await mkdir(this.dir, { recursive: true });
    const entries = new Map<string, LocalTask>();
    const legacy = (await readdir(this.dir)).filter((f) => f.endsWith('.json'));
    for (const f of legacy) {
      try {
        fold(entries, await readFile(join(this.dir, f), 'utf8'));
      } catch (err) {
        onBad(join(this.dir, f), err);
      }
    }
    const text = await readFile(this.file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return '';
      throw err;
    });
    foldLines(entries, text, (n, err) => onBad(`${this.file}:${n}`, err));
    this.compact(entries);
    for (const f of legacy) await rm(join(this.dir, f), { force: true });
    return entries;
  }

  /**
   * compact replaces the log with one line per live entry (`entries`, or the log read back),
   * atomically. Synchronous: no save slips in between.
   */
  private compact(entries?: Map<string, LocalTask>): void {
    if (!entries) {
      entries = new Map();
      foldLines(entries, readFileSync(this.file, 'utf8'), () => {});
    }
    const lines = [...entries.values()].map(entryLine);
    writeFileAtomicSync(this.file, lines.length ? `${lines.join('\n')}\n` : '', { durable: this.opts.durable !== false });
    // The kept descriptor is the replaced file's: the next line opens the new one.
    this.files.release(this.file);
    this.lines = lines.length;
    this.live.clear();
    for (const id of entries.keys()) this.live.add(id);
  }

  /**
   * append queues one line for the end of this event-loop turn (setImmediate) and resolves once it is
   * written: the saves of one turn (the starts of one pass, the tasks whose start delay ended
   * together) cost one write and one link check instead of one each (a --quick scale commit: 10,562
   * lines of a hollow process in 2,859 writes).
   */
  private append(line: string): Promise<void> {
    this.pending.push(line);
    return (this.flushed ??= new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        try {
          this.flush();
          resolve();
        } catch (err) {
          reject(err);
        }
      });
    }));
  }

  /** flush writes the queued lines in one append, compacting when the log has grown past its bound. */
  private flush(): void {
    const lines = this.pending;
    this.pending = [];
    this.flushed = undefined;
    if (lines.length === 0) return;
    this.files.append(this.file, `${lines.join('\n')}\n`, this.opts.durable !== false);
    this.lines += lines.length;
    if (this.lines > 2 * this.live.size + COMPACT_SLACK) this.compact();
  }
}

/**
 * the JSON of each spec a line was written with. A task's spec is one object from its start to its
 * removal (an informer's decoded record, never changed; a new template is a new object), and every
 * entry of the task carries it: the second save of a start (running) and every later one reuse its
 * text, where stringifying the ~1 KB spec again was most of a line's cost (journal save 0.84 of a
 * hollow process's 14.2 busy s in the commit of a --quick scale run). Weak: a spec no entry or
 * informer holds any more is gone with its text. The first text of a spec splices in its template's,
 * serialised once per template (store's taskEncoder: the tasks of a Job share one template object).
 */
const specJson = new WeakMap<TaskSpec, string>();
const encodeSpec = taskEncoder();

/** entryLine is an entry's log line: its other fields as JSON, then the spec's text, reused (specJson). */
export function entryLine(t: LocalTask): string {
  const { spec } = t;
  if (spec === null || typeof spec !== 'object') return JSON.stringify(t);
  let text = specJson.get(spec);
  if (text === undefined) {
    text = encodeSpec(spec);
    specJson.set(spec, text);
  }
  const rest = JSON.stringify(fieldsOf(t));
  return rest === '{}' ? `{"spec":${text}}` : `${rest.slice(0, -1)},"spec":${text}}`;
}

/**
 * fieldsOf is an entry's fields but its spec, as one literal (undefined ones JSON leaves out): a rest
 * pattern (`{ spec, ...fields }`) copied them one by one, 3-8 µs per line (a scratch bench).
 */
function fieldsOf(t: LocalTask): Omit<LocalTask, 'spec'> {
  return {
    taskId: t.taskId, templateHash: t.templateHash, phase: t.phase, state: t.state, attempt: t.attempt, containerId: t.containerId,
    pid: t.pid, ip: t.ip, restarts: t.restarts, startedAt: t.startedAt, finishedAt: t.finishedAt, exitCode: t.exitCode,
    oomKilled: t.oomKilled, message: t.message, ready: t.ready, backoffMs: t.backoffMs, restartAt: t.restartAt,
    stopReason: t.stopReason, stopDeadline: t.stopDeadline,
  };
}

/**
 * readJournal reads a journal dir's entries without writing anything (no compaction, no folding of
 * older per-task files into the log): for readers beside a running agent, such as tests and
 * diagnostics. Unreadable lines and files are skipped.
 */
export function readJournal(dir: string): Map<string, LocalTask> {
  const entries = new Map<string, LocalTask>();
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return entries; // no dir: nothing journaled yet
  }
  for (const f of names.filter((x) => x.endsWith('.json'))) {
    try {
      fold(entries, readFileSync(join(dir, f), 'utf8'));
    } catch {
      // a torn or foreign file: the agent reports it when it loads
    }
  }
  if (names.includes(JOURNAL_LOG)) foldLines(entries, readFileSync(join(dir, JOURNAL_LOG), 'utf8'), () => {});
  return entries;
}

/** fold applies one entry or removal line to `entries`; throws on one that is neither. */
function fold(entries: Map<string, LocalTask>, text: string): void {
  const t = JSON.parse(text) as LocalTask & { removed?: boolean };
  if (typeof t.taskId !== 'string' || (t.removed !== true && typeof t.phase !== 'string')) throw new Error('not a journal entry (taskId, phase)');
  if (t.removed) entries.delete(t.taskId);
  else entries.set(t.taskId, t);
}

/** foldLines folds every line of a log; `onBad` hears each line (numbered from 1) that is not an entry. */
function foldLines(entries: Map<string, LocalTask>, text: string, onBad: (line: number, err: unknown) => void): void {
  let n = 0;
  for (const line of text.split('\n')) {
    n++;
    if (!line) continue;
    try {
      fold(entries, line);
    } catch (err) {
      onBad(n, err);
    }
  }
}
