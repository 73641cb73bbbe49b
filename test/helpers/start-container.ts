// Run as a child process by tests: starts a long-running container with a fresh ContainerManager,
// prints its id, then waits to be killed (the lifecycle test kill -9's it and adopts the container).
import { ContainerManager } from '../../runtime/index.ts';

const [root, image, cgroupParent] = process.argv.slice(2);
if (!root || !image || !cgroupParent) throw new Error('usage: start-container.ts ROOT IMAGE CGROUP_PARENT');
const manager = new ContainerManager({ root, cgroupParent });
const c = await manager.run({ image, name: 'adoptee', command: ['sh', '-c', 'trap "echo got-term; exit 143" TERM; echo started; while :; do sleep 0.1; done'] });
process.stdout.write(`${c.id}\n`);
setInterval(() => undefined, 60_000);
