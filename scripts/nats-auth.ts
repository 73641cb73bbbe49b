// Makes the NATS identities and TLS material of a multi-machine gitcell cluster, the way `gitcell up`
// does on one: nkey seeds for the control plane (reconciler, scheduler, admin CLI), the autoscaler, the read-only
// viewer and one per node agent; a CA and the servers' certificate (openssl); a route credential;
// and the configuration every nats-server of the cluster includes. Re-running keeps existing seeds,
// keys, certificates and the route password.
//
//   npx tsx scripts/nats-auth.ts OUT_DIR [--host H]... [--conf-dir /etc/nats] node-a node-b node-c
//     OUT_DIR/nats/control.nk, autoscaler.nk, viewer.nk, OUT_DIR/nodes/<node>/agent.nk (0600)
//     OUT_DIR/nats/auth.conf     users and permissions (no anonymous user)
//     OUT_DIR/nats/tls/          ca.pem (give to every client), server.pem, server.key (servers only)
//     OUT_DIR/nats/tls.conf      client TLS: clients must speak TLS and verify the servers
//     OUT_DIR/nats/cluster.conf  routes: TLS both ways (CA-signed certificates) + route password
// --host: the addresses/names of the servers (certificate SANs and the route list, port 6222).
// --conf-dir: where the servers' configuration lives on the machines (paths inside the .conf files).
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureIdentities } from '../cli/up/credentials.ts';
import { clientTlsConfig, clusterConfig, ensureNatsTls, type NatsTls } from '../store/index.ts';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { host: { type: 'string', multiple: true }, 'conf-dir': { type: 'string' } } });
const [out, ...nodes] = positionals;
const hosts = values.host ?? [];
if (!out || nodes.length === 0 || nodes.some((n) => !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(n))) {
  process.stderr.write('usage: npx tsx scripts/nats-auth.ts OUT_DIR [--host H]... [--conf-dir /etc/nats] NODE... (node names are DNS labels)\n');
  process.exit(2);
}
const dir = resolve(out);
const confDir = values['conf-dir'] ?? '/etc/nats';
const ids = await ensureIdentities(dir, nodes);
await writeFile(join(dir, 'nats', 'auth.conf'), ids.serverConfig, { mode: 0o600 });
await ensureNatsTls(join(dir, 'nats', 'tls'), hosts);
// Paths as the servers see them once nats/tls/ is copied to <conf-dir>/tls/.
const installed: NatsTls = { caFile: join(confDir, 'tls', 'ca.pem'), certFile: join(confDir, 'tls', 'server.pem'), keyFile: join(confDir, 'tls', 'server.key') };
await writeFile(join(dir, 'nats', 'tls.conf'), clientTlsConfig(installed), { mode: 0o600 });
const passwordFile = join(dir, 'nats', 'route.password');
const password = existsSync(passwordFile) ? (await readFile(passwordFile, 'utf8')).trim() : randomBytes(24).toString('hex');
await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
const routes = hosts.map((h) => `${h.includes(':') && !h.startsWith('[') ? `[${h}]` : h}:6222`);
await writeFile(join(dir, 'nats', 'cluster.conf'), clusterConfig({ name: 'gitcell', listen: '0.0.0.0:6222', routes, user: 'route', password, tls: installed }), { mode: 0o600 });
process.stdout.write(`control seed   ${ids.controlSeedFile}\n`);
process.stdout.write(`autoscaler seed ${ids.autoscalerSeedFile}  (the reconciler's --autoscaler-creds)\n`);
process.stdout.write(`viewer seed    ${ids.viewerSeedFile}\n`);
for (const [node, file] of ids.agentSeedFiles) process.stdout.write(`agent ${node.padEnd(8)} ${file}\n`);
process.stdout.write(`CA             ${join(dir, 'nats', 'tls', 'ca.pem')}  (every machine: GITCELL_NATS_CA)\n`);
process.stdout.write(`server config  ${join(dir, 'nats')}/{auth,tls,cluster}.conf + tls/  (to ${confDir} on every server)\n`);
if (hosts.length === 0) process.stdout.write('note: no --host given: the certificate names only 127.0.0.1 and localhost, and cluster.conf has no routes\n');
