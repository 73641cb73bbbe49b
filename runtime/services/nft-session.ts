// One long-lived `nft -i` per table: a delta costs a line on its stdin (1-5 ms) instead of a new
// `nft` process (100-800 ms on 2 busy cores: exec, library start, and a fresh read of the whole
// table every time). nft runs each input line as one transaction, so a script's commands are
// joined on one line and stay atomic. After each, `describe meta mark` (answered without the
// kernel, always on stdout) marks the end; whatever nft wrote to stderr before it is that line's
// error. The session ends with our stdin (also when the agent is killed), after RECYCLE_AFTER
// lines (nft keeps each line in its history) and after any timeout.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

/** SessionResult: 0 and '' for a transaction nft took, else 1 and its error text. */
export interface SessionResult {
  code: number;
  stderr: string;
}

const MARKER_COMMAND = 'describe meta mark';
const MARKER = 'meta expression, datatype mark (packet mark) (basetype integer), 32 bits\n';
const RECYCLE_AFTER = 500;

/** NftSession runs scripts through one `nft -i`, one at a time; see the file comment. */
export class NftSession {
  private child: ChildProcessWithoutNullStreams | undefined;
  private out = '';
  private err = '';
  private lines = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private onOutput: (() => void) | undefined;
  private spawnError: Error | undefined;

  /** `argv` starts nft (e.g. ['ip', 'netns', 'exec', NS, '/usr/sbin/nft']); '-i' is added. */
  constructor(private readonly argv: readonly string[], private readonly timeoutMs: number) {}

  /** run sends `script` (one command per line) as one transaction. Rejects only when nft cannot be run or times out. */
  run(script: string): Promise<SessionResult> {
    const next = this.queue.then(() => this.runNow(script));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** close ends the session (idempotent). */
  close(): void {
    const c = this.child;
    this.child = undefined;
    if (c && c.exitCode === null) {
      c.stdin.end();
      setTimeout(() => c.kill('SIGKILL'), 2000).unref();
    }
  }

  private async runNow(script: string): Promise<SessionResult> {
    const child = this.ensure();
    const line = script.split('\n').filter((l) => l.trim()).join('; ');
    this.err = '';
    child.stdin.write(`${line}\n${MARKER_COMMAND}\n`);
    this.lines++;
    try {
      await this.waitForMarker(child);
    } catch (err) {
      this.close();
      throw err;
    }
    // stderr was written before the marker reached stdout; let its pending read land first.
    await new Promise((r) => setImmediate(r));
    const stderr = this.err.trim();
    this.err = '';
    if (this.lines >= RECYCLE_AFTER) this.close();
    return { code: stderr ? 1 : 0, stderr };
  }

  private ensure(): ChildProcessWithoutNullStreams {
    if (this.child && this.child.exitCode === null && !this.child.killed) return this.child;
    // HOME elsewhere: nft -i writes its line history to $HOME/.nft.history when it ends.
    const child = spawn(this.argv[0]!, [...this.argv.slice(1), '-i'], { env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/nonexistent' }, stdio: ['pipe', 'pipe', 'pipe'] });
    this.out = '';
    this.err = '';
    this.lines = 0;
    this.spawnError = undefined;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      this.out += d;
      this.onOutput?.();
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (this.err += d));
    child.stdin.on('error', () => undefined);
    child.on('error', (e) => {
      this.spawnError = e;
      this.onOutput?.();
    });
    child.on('close', () => this.onOutput?.());
    this.child = child;
    return child;
  }

  private waitForMarker(child: ChildProcessWithoutNullStreams): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`nft -i gave no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      const check = () => {
        const at = this.out.indexOf(MARKER);
        if (at >= 0) {
          this.out = this.out.slice(at + MARKER.length);
          finish();
        } else if (this.spawnError || child.exitCode !== null || child.signalCode !== null) {
          finish(new Error(`nft -i ended (${this.spawnError?.message ?? child.exitCode ?? child.signalCode}): ${this.err.trim().slice(0, 300)}`));
        }
      };
      const finish = (err?: Error) => {
        clearTimeout(timer);
        this.onOutput = undefined;
        if (err) reject(err);
        else resolve();
      };
      this.onOutput = check;
      check();
    });
  }
}
