import { spawn } from 'node:child_process';
import { sharedSpawnHelper } from '../../lib/spawn-helper.ts';

/** ExecResult is what a finished child process left behind. */
export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * runCommand runs `file args` without a shell, feeding `input` on stdin, and resolves with the exit
 * code and captured output; it never rejects for a non-zero exit (callers decide what a failure
 * means), only when the binary cannot be started at all. With `helper`, the process's spawn helper
 * (lib/spawn-helper.ts) starts it instead of a fork of this process: the task start path (netns,
 * CNI plugins) runs several such commands per task; a binary that cannot be started is then exit
 * code 127 with the shell's message.
 */
export function runCommand(
  file: string,
  args: string[],
  options: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; helper?: boolean } = {},
): Promise<ExecResult> {
  if (options.helper) {
    return sharedSpawnHelper().run(file, args, {
      ...(options.input !== undefined ? { input: options.input } : {}), ...(options.env ? { env: options.env } : {}), ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    });
  }
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    if (options.timeoutMs) timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    // A plugin that exits before reading stdin must not crash us with EPIPE.
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}


/**
 * runChecked runs `file args` through the spawn helper (no fork of this process) and, like a
 * promisified execFile, rejects when the command exits non-zero: the Error names the command and
 * carries its `stderr`. For short commands of the task start path (tmpfs mounts of Secrets and
 * bundles), each a fork of the agent's process otherwise.
 */
export async function runChecked(file: string, args: string[], timeoutMs = 30_000): Promise<ExecResult> {
  const r = await runCommand(file, args, { timeoutMs, helper: true });
  if (r.code !== 0) throw Object.assign(new Error(`${file} ${args.join(' ')}: exit ${r.code}: ${r.stderr.trim()}`), { stderr: r.stderr, code: r.code });
  return r;
}
