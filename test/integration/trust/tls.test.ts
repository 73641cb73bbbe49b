// TLS and route authentication on a real three-server nats-server cluster configured as deploy/
// does (store/tls.ts): a plaintext client is refused, a client that does not trust the cluster CA
// refuses the server, and servers without the cluster's route credential and CA-signed certificate
// cannot route in, while one that has both can (the control that shows the check can fail).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createConnection } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as rawConnect } from '@nats-io/transport-node';
import { connect, clientTlsConfig, clusterConfig, ensureNatsTls, jsonCodec, Bucket } from '../../../store/index.ts';
import { freePort, startNatsCluster, startNatsServer, type NatsServer } from '../../helpers/nats.ts';
import { waitFor } from '../../helpers/wait.ts';

async function numRoutes(monitorPort: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${monitorPort}/routez`);
  return ((await res.json()) as { num_routes: number }).num_routes;
}

test('TLS cluster: plaintext and untrusting clients are refused; rogue servers cannot route in; a server with the credentials can', { timeout: 240_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'gitcell-tls-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const tls = await ensureNatsTls(join(dir, 'cluster'));
  const password = randomBytes(16).toString('hex');
  const cluster = await startNatsCluster({ t, secure: { tls, user: 'route', password }, probe: { tls: { caFile: tls.caFile } } });

  // Clients: TLS with the cluster CA works; plaintext, or TLS trusting only the system CAs, does not.
  const nc = await connect({ servers: cluster.url, caFile: tls.caFile });
  t.after(() => nc.close());
  const b = await Bucket.open(nc, { name: `tls_${randomBytes(3).toString('hex')}`, replicas: 3 }, jsonCodec<{ ok: boolean }>());
  await b.put('k', { ok: true });
  assert.equal((await b.get('k'))?.value.ok, true);
  await assert.rejects(rawConnect({ servers: cluster.urls[0]!, reconnect: false, timeout: 5000 }), /certificate|verify/i);
  await assert.rejects(rawConnect({ servers: cluster.urls[0]!, reconnect: false, timeout: 5000, tls: {} }), /certificate|verify/i);
  await assert.rejects(connect({ servers: cluster.urls[0]!, timeoutMs: 5000 }), /GITCELL_NATS_CA/);
  // A client that speaks plaintext anyway: the server announces tls_required and drops it without a PONG.
  const port = Number(new URL(cluster.urls[0]!).port);
  const plaintext = await new Promise<{ info: string; answer: string }>((resolve, reject) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let data = '';
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`the server kept a plaintext client: ${data}`)); }, 30_000);
    sock.on('data', (d) => {
      const first = !data;
      data += d.toString('latin1');
      if (first) sock.write('CONNECT {"verbose":false,"pedantic":false,"tls_required":false}\r\nPING\r\n');
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearTimeout(timer);
      const [info, ...rest] = data.split('\r\n');
      resolve({ info: info ?? '', answer: rest.join('\n') });
    });
  });
  assert.match(plaintext.info, /"tls_required":true/);
  assert.doesNotMatch(plaintext.answer, /PONG/);

  // Servers that try to route in: none of the credentials; the password but a certificate from
  // another CA; and (the control) the password and a certificate from the cluster CA.
  const otherTls = await ensureNatsTls(join(dir, 'rogue-ca'));
  const name = await clusterNameOf(cluster.servers[0]!);
  const extra = async (variant: 'plain' | 'other-ca' | 'legit'): Promise<{ server: NatsServer; monitor: number }> => {
    const monitor = await freePort();
    const listen = `127.0.0.1:${await freePort()}`;
    const block = variant === 'plain'
      ? `cluster { name: ${name}, listen: ${listen}, routes: [${cluster.routes.map((r) => `nats-route://${r}`).join(', ')}] }`
      : clusterConfig({ name, listen, routes: cluster.routes, user: 'route', password, tls: variant === 'legit' ? tls : otherTls });
    const server = await startNatsServer({ t, jetstream: false, extraConfig: `${block}\nhttp: 127.0.0.1:${monitor}\n${variant === 'legit' ? clientTlsConfig(tls) : ''}` });
    return { server, monitor };
  };
  const plain = await extra('plain');
  const otherCa = await extra('other-ca');
  const legit = await extra('legit');
  await waitFor('the server with the cluster credentials to route in', async () => (await numRoutes(legit.monitor)) >= 3, 60_000);
  assert.equal(await numRoutes(plain.monitor), 0, 'a server without route credentials or certificate routed in');
  assert.equal(await numRoutes(otherCa.monitor), 0, 'a server with a certificate from another CA routed in');
  assert.match(await cluster.servers[0]!.log(), /tls|handshake|authorization|certificate/i);
});

/** clusterNameOf reads the cluster name from a server's log ("Cluster name is ..."). */
async function clusterNameOf(server: NatsServer): Promise<string> {
  return waitFor('the cluster name in the server log', async () => /Cluster name is (\S+)/.exec(await server.log())?.[1], 30_000);
}
