/**
 * A spawn helper: one small resident `/bin/sh` (dash on Debian, ~1.7 MB) that starts short-lived
 * commands for this process, so a busy Node process does not fork itself for each one.
 *
 * Why: libuv (1.46, Node 20) starts a child with fork(2) on Linux, and uv_spawn blocks the event
 * loop until the forked copy has exec'ed. For the agent (~90 MB resident) that was ~10-15 ms of
 * blocked main thread per child on a loaded 2-core machine (2.4 s of a 9.3 s profile of 50 task
 * starts, three children each), plus the copy-on-write faults of its heap after every fork. dash
 * forks in a fraction of a millisecond and the agent only writes a file and a line.
 *
 *   run(file, args, {input, env}) ─► DIR/<n>.sh: cd /, `unset` of what env leaves out, exports,
 *                                    file args with the input as a here-document, echo "d <n> $?"
 *   "<n>\n" on the helper's stdin ─► ( . DIR/<n>.sh ) & echo "p <n> $!"
 *   "p <n> PID" (a timeout kills PID's children) ... "d <n> CODE" ─► read <n>.out, <n>.err, remove the files
 *
 * DIR is a private directory on tmpfs (/dev/shm when writable). The helper exits when its stdin
 * closes (this process ended, however: even kill -9) after its children, and removes DIR itself.
 * Its files are written, read and removed with synchronous calls: on tmpfs they never wait on a
 * disk, and each asynchronous one was a round trip through the thread pool (fs.promises.rm an
 * lstat more): 8 per command, ~25 per task start.
 *
 * One fork of the helper per command: the subshell runs the command in the foreground, which dash
 * (0.5.11+) starts with vfork, and reports its status itself. A backgrounded waiter around an
 * exec'ing subshell was two full forks: ~2 ms of CPU each on this machine under load (500
 * `( : )` in dash: 1.06 CPU-s, load 10), two commands (conmon, the CNI ADD) per task start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readdirSyncOrEmpty } from './fs.ts';
import { processAlive } from './process.ts';

/** SpawnResult is what a finished command left behind (runCommand's ExecResult). */
export interface SpawnResult {
  code: number;
  stdout: string;
  stderr: string;
  /** with `syncFd3`: the first line the command (or a child holding the descriptor) wrote on fd 3 */
  sync?: string;
}

/** SpawnRequest: stdin content, the exact environment (default: this process's), a deadline. */
export interface SpawnRequest {
  input?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** the working directory (absolute; default /) */
  cwd?: string;
  /**
   * give the command a pipe on fd 3 and report its first line (conmon's sync pipe): a non-empty line
   * is the answer at once (code 0, no output read); when every holder closed the pipe without one,
   * the answer comes at the command's end with its output (`code` is then the reader's, not the
   * command's). Not with `timeoutMs`: the pid the helper knows is the reader's, not the command's.
   */
  syncFd3?: boolean;
  /**
   * a file (a fifo) opened for reading onto the command's fd 4 by the helper's shell: conmon's start
   * pipe (`_OCI_STARTPIPE=4`), which blocks it until this process writes a byte or closes its end
   */
  fd4From?: string;
  /** a pending command that does not keep this process alive (a monitor waiting on its start pipe) */
  unref?: boolean;
}

// "<n>" runs a command in a subshell of its own; "s<n>" (syncFd3) is a script that starts its own
// background pipeline and reports its pid, sourced by the helper itself (commandScript).
const HELPER_SCRIPT = [
  'cd "$1" || exit 1',
  'while IFS= read -r n; do',
  '  case $n in',
  '    s*) . "$1/${n#s}.sh" ;;',
  '    *) ( . "$1/$n.sh" ) & echo "p $n $!" ;;',
  '  esac',
  'done',
  'wait',
  'cd / && rm -rf "$1"',
].join('\n');

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** shellQuote quotes one word for sh: inside single quotes nothing is special but the quote itself. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * commandScript is the script the helper sources for command `n`: its redirections (stdin from a
 * here-document whose delimiter does not occur in the input), the environment made exactly `env`
 * (unset what the helper has and `env` lacks, export the rest), the command in the foreground
 * (vfork), and its status reported as "d <n> CODE" on the helper's stdout.
 */
export function commandScript(base: string, n: number, file: string, args: string[], input: string, env: NodeJS.ProcessEnv, helperEnv: NodeJS.ProcessEnv, o: { cwd?: string; syncFd3?: boolean; fd4From?: string } = {}): string {
  let delim = `GITCELL_EOF_${randomBytes(6).toString('hex')}`;
  while (input.includes(delim)) delim += 'X';
  // The shell's own PWD and OLDPWD too: the command sees `env` and nothing else, from cwd (or /).
  const lines: string[] = [`cd ${shellQuote(o.cwd ?? '/')} || { echo "d ${n} 126"; exit 126; }`];
  const gone = [...Object.keys(helperEnv), 'PWD', 'OLDPWD'].filter((k) => NAME_RE.test(k) && env[k] === undefined);
  if (gone.length) lines.push(`unset ${gone.join(' ')}`);
  for (const [k, v] of Object.entries(env)) if (v !== undefined && NAME_RE.test(k)) lines.push(`export ${k}=${shellQuote(v)}`);
  // fd 4 read-only (its writers stay the caller's alone: their end is the command's EOF), opened
  // after a read-write fd 5 so the open never waits for a writer: a caller that died or closed its
  // end before this line would otherwise leave the command blocked in open(2) forever.
  const fd4 = o.fd4From ? ` 5<>${shellQuote(o.fd4From)} 4<${shellQuote(o.fd4From)} 5>&-` : '';
  const command = `${[file, ...args].map(shellQuote).join(' ')}${o.syncFd3 ? ' 3>&1' : ''}${fd4} >${shellQuote(`${base}.out`)} 2>${shellQuote(`${base}.err`)} <<'${delim}'`;
  // A here-document ends with a newline: an input without one gets it (JSON and ip -batch lines
  // read the same with it).
  const doc = `${input}${input.endsWith('\n') || input === '' ? '' : '\n'}${delim}`;
  const done = `echo "d ${n} $?"`;
  if (!o.syncFd3) return `${lines.join('\n')}\n${command}\n${doc}\n${done}\n`;
  // fd 3 is a pipe to a reader that tags the first line for this request on the helper's stdout
  // (printf: dash's echo would turn a "\n" of the JSON into a line break), then reports the end:
  // at EOF every holder of fd 3 (the command's first process too) is gone, so its output is
  // complete. The helper sources this itself and backgrounds the pipeline: one fork fewer than a
  // subshell around it (the left side is a subshell already, so cd, unset and export stay in it).
  lines[0] = `cd ${shellQuote(o.cwd ?? '/')} 2>${shellQuote(`${base}.err`)} || exit 126`;
  const reader = `{ IFS= read -r l; printf 's ${n} %s\\n' "$l"; echo "d ${n} $?"; }`;
  return `{ ${lines.join('\n')}\nexec ${command}\n${doc}\n} | ${reader} &\necho "p ${n} $!"\n`;
}

interface Pending {
  resolve(r: SpawnResult): void;
  reject(e: Error): void;
  pid?: number;
  sync?: string;
  /** does not keep this process alive (SpawnRequest.unref) */
  unref?: boolean;
  /** resolved already (by a sync report): the end of the command only removes its files */
  answered?: boolean;
  killed?: boolean;
  timer?: NodeJS.Timeout;
}

/** SpawnHelper runs commands through one resident sh; see the file comment. */
export class SpawnHelper {
  private child: ChildProcess | undefined;
  private dir = '';
  private next = 0;
  private buf = '';
  private readonly pending = new Map<number, Pending>();
  private readonly helperEnv: NodeJS.ProcessEnv;

  constructor(private readonly baseDir = defaultBaseDir()) {
    this.helperEnv = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' };
  }

  /** run runs `file args` and resolves with its exit code and output; it rejects only when the helper cannot run it. */
  async run(file: string, args: string[], req: SpawnRequest = {}): Promise<SpawnResult> {
    if (req.syncFd3 && req.timeoutMs) throw new Error('spawn helper: syncFd3 with timeoutMs is not supported (the caller bounds its wait for the report)');
    const child = this.ensure();
    const n = ++this.next;
    const input = req.input ?? '';
    const base = join(this.dir, String(n));
    const script = commandScript(base, n, file, args, input, req.env ?? process.env, this.helperEnv, { ...(req.cwd ? { cwd: req.cwd } : {}), ...(req.syncFd3 ? { syncFd3: true } : {}), ...(req.fd4From ? { fd4From: req.fd4From } : {}) });
    writeFileSync(`${base}.sh`, script, { mode: 0o600 });
    return new Promise<SpawnResult>((resolve, reject) => {
      const p: Pending = { resolve, reject, ...(req.unref ? { unref: true } : {}) };
      this.pending.set(n, p);
      if (req.timeoutMs) {
        p.timer = setTimeout(() => {
          p.killed = true;
          if (p.pid) this.kill(n, p);
        }, req.timeoutMs);
      }
      this.refresh();
      child.stdin!.write(req.syncFd3 ? `s${n}\n` : `${n}\n`);
    });
  }

  /** close ends the helper (it removes its directory once its running commands ended). */
  close(): void {
    this.child?.stdin?.end();
    this.child = undefined;
  }

  private ensure(): ChildProcess {
    if (this.child) return this.child;
    sweepStaleDirs(this.baseDir);
    this.dir = mkdtempSync(join(this.baseDir, `${DIR_PREFIX}${process.pid}-`));
    const dir = this.dir;
    const child = spawn('/bin/sh', ['-c', HELPER_SCRIPT, 'gitcell-spawn-helper', dir], { stdio: ['pipe', 'pipe', 'ignore'], env: this.helperEnv });
    this.child = child;
    child.stdin!.on('error', () => undefined);
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => this.onData(d));
    const lost = (why: string): void => {
      if (this.child === child) this.child = undefined;
      rmSync(dir, { recursive: true, force: true });
      const err = new Error(`the spawn helper ${why}`);
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(err);
      }
      this.pending.clear();
    };
    child.on('error', (e) => lost(`could not start: ${e.message}`));
    child.on('exit', (code, signal) => lost(`exited (${signal ?? code})`));
    child.unref();
    this.refresh();
    return child;
  }

  /**
   * makeFifo makes a fifo (mode 0600) named `name` in the helper's private directory, which goes
   * with the helper (its owner's end, however) and is swept after a kill of both; returns its path.
   */
  async makeFifo(name: string): Promise<string> {
    this.ensure();
    const path = join(this.dir, name);
    const r = await this.run('/usr/bin/mkfifo', ['-m', '600', path], { env: this.helperEnv });
    if (r.code !== 0) throw new Error(`mkfifo ${path}: ${r.stderr.trim() || `exit ${r.code}`}`);
    return path;
  }

  /** refresh keeps this process alive while commands are pending (but unref'ed ones), and only then. */
  private refresh(): void {
    const out = this.child?.stdout as (NodeJS.ReadableStream & { ref?(): void; unref?(): void }) | undefined;
    const inp = this.child?.stdin as (NodeJS.WritableStream & { ref?(): void; unref?(): void }) | undefined;
    let held = false;
    for (const p of this.pending.values()) if (!p.unref) held = true;
    if (held) out?.ref?.();
    else out?.unref?.();
    inp?.unref?.();
  }

  private onData(d: string): void {
    this.buf += d;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      const [kind, ns, value] = line.split(' ');
      const n = Number(ns);
      const p = this.pending.get(n);
      if (!p) continue;
      if (kind === 's') {
        p.sync ??= line.slice(kind.length + ns!.length + 2);
        // A report is the answer (a container start waits on it): the command's end only cleans up.
        if (p.sync && !p.answered) {
          p.answered = true;
          clearTimeout(p.timer);
          p.resolve({ code: 0, stdout: '', stderr: '', sync: p.sync });
        }
      } else if (kind === 'p') {
        p.pid = Number(value);
        if (p.killed) this.kill(n, p);
      } else if (kind === 'd') {
        this.pending.delete(n);
        clearTimeout(p.timer);
        this.refresh();
        this.collect(n, Number(value), p);
      }
    }
  }

  /**
   * kill ends command `n` at its deadline: SIGKILL to the children of its subshell (the command, a
   * pipeline's parts, a here-document writer), and the subshell reports 137. A subshell with no
   * child (not started it yet, or reporting already) is killed itself and the answer is 137 here.
   */
  private kill(n: number, p: Pending): void {
    const pid = p.pid!;
    let children: number[] = [];
    try {
      children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter((x) => x.trim()).map(Number);
    } catch {
      // the subshell is gone: its report is on the way
    }
    for (const c of children) killQuietly(c);
    if (children.length > 0) return;
    killQuietly(pid);
    this.pending.delete(n);
    this.refresh();
    this.collect(n, 137, p);
  }

  private collect(n: number, code: number, p: Pending): void {
    const base = join(this.dir, String(n));
    if (!p.answered) p.resolve({ code, stdout: readOrEmpty(`${base}.out`), stderr: readOrEmpty(`${base}.err`), ...(p.sync !== undefined ? { sync: p.sync } : {}) });
    for (const x of ['sh', 'out', 'err']) {
      try {
        unlinkSync(`${base}.${x}`);
      } catch {
        // never made (the command could not be started) or the helper's directory is gone
      }
    }
  }
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

const DIR_PREFIX = 'gitcell-spawn-';

/**
 * sweepStaleDirs removes the directories of helpers whose owner process is gone: a helper removes
 * its own when its owner ends, unless both were killed at once (kill -9 of a process group).
 */
function sweepStaleDirs(baseDir: string): void {
  for (const name of readdirSyncOrEmpty(baseDir)) {
    const m = new RegExp(`^${DIR_PREFIX}(\\d+)-`).exec(name);
    if (m && !processAlive(Number(m[1]))) rmSync(join(baseDir, name), { recursive: true, force: true });
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** defaultBaseDir is /dev/shm (tmpfs: the files never reach a disk) when writable, else the temp dir. */
function defaultBaseDir(): string {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
}

let shared: SpawnHelper | undefined;

/** sharedSpawnHelper is this process's one helper, started at its first command. */
export function sharedSpawnHelper(): SpawnHelper {
  shared ??= new SpawnHelper();
  return shared;
}
