// Run as a child process by tests: a ContainerManager with a warm monitor (runtime/container/
// warm-monitor.ts) runs one container, waits until the next container's conmon (the spare) waits on
// its start pipe, and with mode "claimed" also creates (without starting) a container that takes the
// spare. Prints "<running id> <spare id>" and waits to be killed (kill -9: nothing of the spare may stay).
import * as fs from 'node:fs';
import { join } from 'node:path';
import { ContainerManager } from '../../runtime/index.ts';
import { conmonsUnder } from './warm.ts';

const [root, image, cgroupParent, mode] = process.argv.slice(2);
if (!root || !image || !cgroupParent || (mode !== 'idle' && mode !== 'claimed')) throw new Error('usage: warm-owner.ts ROOT IMAGE CGROUP_PARENT idle|claimed');
const manager = new ContainerManager({ root, cgroupParent, warmMonitor: true });
const a = await manager.run({ image, name: 'warm-running', command: ['sleep', '1000'] });
const containers = join(root, 'containers');
const deadline = Date.now() + 60_000;
let spare: string | undefined;
while (!spare) {
  if (Date.now() > deadline) throw new Error('no spare conmon within 60 s');
  const dirs = fs.readdirSync(containers).filter((d) => !fs.existsSync(join(containers, d, 'container.json')));
  spare = dirs.find((d) => conmonsUnder(join(containers, d)).length > 0);
  if (!spare) await new Promise((r) => setTimeout(r, 20));
}
if (mode === 'claimed') {
  const b = await manager.create({ image, name: 'warm-created', command: ['sleep', '1000'] });
  if (b.id !== spare) throw new Error(`create did not take the spare ${spare}: ${b.id}`);
}
process.stdout.write(`${a.id} ${spare}\n`);
setInterval(() => undefined, 60_000);
