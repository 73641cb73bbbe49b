/**
 * Test helper: a real OpenSSH server (Debian's openssh-server, /usr/sbin/sshd) on a free port of
 * 127.0.0.1 with its own host key and configuration, serving bare Git repositories to one deploy
 * key (public key only, `restrict`: no forwarding, no pty). Git over SSH runs git-upload-pack and
 * git-receive-pack through it exactly as on a Git host.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { gitEnv } from './git-http.ts';

/** SSHD is where Debian's openssh-server installs the daemon (sshd re-execs itself: an absolute path). */
export const SSHD = '/usr/sbin/sshd';

/** SshServer is a running sshd; `close()` stops it and removes its directory. */
export interface SshServer {
  dir: string;
  port: number;
  user: string;
  /** knownHosts is the line that pins this server's host key: `[127.0.0.1]:PORT ssh-ed25519 ...`. */
  knownHosts: string;
  /** deployKey is the private key sshd accepts (a file, mode 0600); deployKeyPem its text. */
  deployKey: string;
  /** createBareRepo makes `${dir}/repos/${name}.git` and returns its ssh:// URL and path. */
  createBareRepo(name: string): { url: string; path: string };
  close(): Promise<void>;
}

function keygen(file: string, comment: string): void {
  execFileSync('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
}

/** freePort asks the kernel for a free port of 127.0.0.1. */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** makeHostKeyLine makes a fresh, unrelated ed25519 host key line for `[127.0.0.1]:port` (an impostor's). */
export function makeHostKeyLine(port: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'gitcell-hostkey-'));
  try {
    keygen(join(dir, 'key'), 'other');
    return `[127.0.0.1]:${port} ${readFileSync(join(dir, 'key.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ')}\n`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** waitListening resolves once sshd logs that it listens, or rejects with its log on exit or after 30 s. */
function waitListening(child: ChildProcess, log: { text: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sshd did not listen within 30 s: ${log.text}`)), 30_000);
    const onData = () => {
      if (/Server listening on 127\.0\.0\.1/.test(log.text)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stderr!.on('data', (d: Buffer) => {
      log.text += d.toString();
      onData();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sshd exited ${code}: ${log.text}`));
    });
  });
}

/** startSshd starts sshd as the current user (root in CI) on a free port. Fails clearly without openssh-server. */
export async function startSshd(): Promise<SshServer> {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} is missing: install the Debian package "openssh-server" (scripts/bootstrap.sh does)`);
  // sshd's privilege separation directory; Debian's service creates it, a test must.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const dir = mkdtempSync(join(tmpdir(), 'gitcell-sshd-'));
  const user = userInfo().username;
  keygen(join(dir, 'host_ed25519'), 'host');
  keygen(join(dir, 'deploy'), 'deploy');
  writeFileSync(join(dir, 'authorized_keys'), `restrict ${readFileSync(join(dir, 'deploy.pub'), 'utf8')}`, { mode: 0o600 });
  mkdirSync(join(dir, 'repos'));
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const config = [
      `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${join(dir, 'host_ed25519')}`, `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, `AllowUsers ${user}`, 'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no',
      'AllowAgentForwarding no', 'AllowTcpForwarding no', 'X11Forwarding no', 'PermitTTY no', 'PermitUserRC no', 'LogLevel VERBOSE',
    ].join('\n');
    writeFileSync(join(dir, 'sshd_config'), `${config}\n`);
    const log = { text: '' };
    const child = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      await waitListening(child, log);
    } catch (err) {
      child.kill('SIGKILL');
      if (attempt < 3 && /Address already in use/.test(log.text)) continue;
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    const hostKey = readFileSync(join(dir, 'host_ed25519.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
    return {
      dir,
      port,
      user,
      knownHosts: `[127.0.0.1]:${port} ${hostKey}\n`,
      deployKey: join(dir, 'deploy'),
      createBareRepo(name) {
        const path = join(dir, 'repos', `${name}.git`);
        execFileSync('/usr/bin/git', ['init', '--bare', '--quiet', '--initial-branch=main', path], { env: gitEnv() });
        return { url: `ssh://${user}@127.0.0.1:${port}${path}`, path };
      },
      async close() {
        if (child.exitCode === null) {
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGTERM');
          await exited;
        }
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
}
