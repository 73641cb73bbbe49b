// Makes the NATS identities of a multi-machine gitcell cluster, the way `gitcell up` does on one:
// an nkey seed for the control plane (reconciler, scheduler, CLI) and one per node agent, plus the
// `authorization` block every nats-server of the cluster includes (agents confined by
// agentPermissions). Re-running keeps existing seeds.
//
//   npx tsx scripts/nats-auth.ts OUT_DIR node-a node-b node-c
//     OUT_DIR/nats/control.nk, OUT_DIR/nodes/<node>/agent.nk (0600), OUT_DIR/nats/auth.conf
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ensureIdentities } from '../cli/up/credentials.ts';

const [out, ...nodes] = process.argv.slice(2);
if (!out || nodes.length === 0 || nodes.some((n) => !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(n))) {
  process.stderr.write('usage: npx tsx scripts/nats-auth.ts OUT_DIR NODE... (node names are DNS labels)\n');
  process.exit(2);
}
const dir = resolve(out);
const ids = await ensureIdentities(dir, nodes);
await writeFile(join(dir, 'nats', 'auth.conf'), ids.serverConfig, { mode: 0o600 });
process.stdout.write(`control seed   ${ids.controlSeedFile}\n`);
for (const [node, file] of ids.agentSeedFiles) process.stdout.write(`agent ${node.padEnd(8)} ${file}\n`);
process.stdout.write(`server config  ${join(dir, 'nats', 'auth.conf')}  (include it in every nats-server.conf)\n`);
