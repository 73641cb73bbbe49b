// Test helper: a small network made of namespaces the test owns ("gc-" names): a node namespace
// with a bridge (its own root network stack, where nft and dnsmasq run) and leaf namespaces on
// veths, each with an address in the bridge's subnet and a default route through the bridge.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { runCommand } from '../../runtime/network/exec.ts';

/** NetLab is one node namespace with a bridge and its leaves; `destroy` removes every one. */
export interface NetLab {
  node: string;
  bridge: string;
  gateway: string;
  subnet: string;
  leaves: Map<string, { netns: string; ip: string }>;
  /** spawn runs a command inside a namespace; killed on destroy */
  spawn(netns: string, argv: string[]): ChildProcess;
  destroy(): Promise<void>;
}

async function sh(file: string, args: string[]): Promise<void> {
  const r = await runCommand(file, args, { timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')}: ${r.stderr.trim()}`);
}

/**
 * makeNetLab builds the node namespace `gc-<tag>-node-<rand>` with bridge gcbr0 holding `.1` of
 * `subnet` (a /24), IP forwarding on, and one leaf namespace per name at `.10`, `.11`, ...
 */
export async function makeNetLab(tag: string, subnet: string, leafNames: string[]): Promise<NetLab> {
  const rand = randomBytes(3).toString('hex');
  const base = subnet.replace(/\.0\/24$/, '');
  const node = `gc-${tag}-node-${rand}`;
  const children = new Set<ChildProcess>();
  const created: string[] = [];
  const lab: NetLab = {
    node, bridge: 'gcbr0', gateway: `${base}.1`, subnet, leaves: new Map(),
    spawn(netns, argv) {
      const child = spawn('ip', ['netns', 'exec', netns, ...argv], { stdio: ['pipe', 'pipe', 'pipe'] });
      children.add(child);
      child.on('exit', () => children.delete(child));
      return child;
    },
    async destroy() {
      for (const c of children) c.kill('SIGKILL');
      // Deleting a namespace takes its veth ends, the bridge, the nft table and dnsmasq's socket with it.
      for (const ns of created.reverse()) await runCommand('ip', ['netns', 'delete', ns], { timeoutMs: 30_000 });
    },
  };
  try {
    await sh('ip', ['netns', 'add', node]);
    created.push(node);
    await sh('ip', ['-n', node, 'link', 'set', 'lo', 'up']);
    await sh('ip', ['-n', node, 'link', 'add', 'gcbr0', 'type', 'bridge']);
    await sh('ip', ['-n', node, 'addr', 'add', `${base}.1/24`, 'dev', 'gcbr0']);
    await sh('ip', ['-n', node, 'link', 'set', 'gcbr0', 'up']);
    await sh('ip', ['netns', 'exec', node, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    let i = 10;
    for (const name of leafNames) {
      const netns = `gc-${tag}-${name}-${rand}`;
      const ip = `${base}.${i}`;
      await sh('ip', ['netns', 'add', netns]);
      created.push(netns);
      await sh('ip', ['-n', node, 'link', 'add', `gcv${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
      await sh('ip', ['-n', node, 'link', 'set', `gcv${i}`, 'master', 'gcbr0', 'up']);
      await sh('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
      await sh('ip', ['-n', netns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
      await sh('ip', ['-n', netns, 'link', 'set', 'eth0', 'up']);
      await sh('ip', ['-n', netns, 'route', 'add', 'default', 'via', `${base}.1`]);
      lab.leaves.set(name, { netns, ip });
      i++;
    }
  } catch (err) {
    await lab.destroy();
    throw err;
  }
  return lab;
}

/** lineOf resolves with the first stdout line of a child that matches, or rejects when it exits first. */
export function lineOf(child: ChildProcess, match: RegExp, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`no line matching ${match} within ${timeoutMs} ms (stderr: ${err.trim()})`)), timeoutMs);
    const onData = (b: Buffer) => {
      buf += b.toString();
      for (const line of buf.split('\n')) {
        if (match.test(line)) {
          clearTimeout(timer);
          child.stdout!.off('data', onData);
          resolve(line);
          return;
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before printing ${match} (stderr: ${err.trim()})`));
    });
  });
}
