// One fixture for `gitcell agent` run as its own process (the restart test, the agent benchmark):
// a node name, bucket prefix, state and image directories, subnet and bridge of its own, a real
// nats-server with the cluster store, and the runtime and network objects the agent will build on
// the same directories (for inspection and cleanup only).
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomInt } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { connect, openClusterStore, type ClusterStore } from '../../store/index.ts';
import { NetworkManager } from '../../runtime/index.ts';
import { RuntimeAdapter } from '../../agent/index.ts';
import { silentLogger } from '../../lib/index.ts';
import { startNatsServer, type NatsServer } from './nats.ts';

/** AgentProcessFixture is what an agent process of a test or bench runs against. */
export interface AgentProcessFixture {
  /** random hex in every name below */
  suffix: string;
  node: string;
  prefix: string;
  dir: string;
  /** the agent's --node-dir */
  stateDir: string;
  imageRoot: string;
  subnet: string;
  bridge: string;
  server: NatsServer;
  nc: NatsConnection;
  store: ClusterStore;
  runtime: RuntimeAdapter;
  network: NetworkManager;
}

/** agentProcessFixture makes one; `tag` starts the node name, bucket prefix, temp dir and bridge. */
export async function agentProcessFixture(tag: string): Promise<AgentProcessFixture> {
  const suffix = randomBytes(3).toString('hex');
  const node = `${tag}-${suffix}`;
  const dir = await mkdtemp(join(tmpdir(), `gitcell-${tag}-`));
  const stateDir = join(dir, 'state');
  const imageRoot = join(dir, 'images');
  const subnet = `10.${150 + randomInt(50)}.${randomInt(256)}.0/24`;
  const bridge = `gc${tag.slice(0, 1)}${suffix}`;
  const prefix = `${tag.slice(0, 1)}${suffix}_`;
  const server = await startNatsServer();
  const nc = await connect({ servers: server.url });
  const store = await openClusterStore(nc, { prefix, log: silentLogger() });
  const runtime = new RuntimeAdapter({ root: join(stateDir, 'runtime'), imageRoot, cgroupParent: `gitcell/${node}` });
  const network = new NetworkManager({ bridge, subnet, stateDir: join(stateDir, 'network'), netnsPrefix: `gc-${node}-` });
  return { suffix, node, prefix, dir, stateDir, imageRoot, subnet, bridge, server, nc, store, runtime, network };
}
