// One fixture for the agent tests that pull from a registry: a NATS server, a real docker-registry
// (open or wanting credentials) holding a busybox image, and one test node whose image cache starts
// empty, so the node really pulls. `stop()` closes all of it and returns what the node leaked.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageStore, pushImage } from '../../runtime/index.ts';
import { buildBusyboxImage, leaks, startTestNode, type TestNode } from './agent.ts';
import { startNatsServer, type NatsServer } from './nats.ts';
import { startRegistry, type RegistryAuth, type TestRegistry } from './registry.ts';

/** ImageNode is the running fixture. */
export interface ImageNode {
  server: NatsServer;
  registry: TestRegistry;
  node: TestNode;
  /** the pushed image's reference, `<registry>/<repository>` */
  image: string;
  /** closes the node, the registry and the server; resolves to the node's leaks (expect []) */
  stop(): Promise<string[]>;
}

/** ImageNodeOptions: the registry's auth, the image's repository:tag, and the node's options. */
export interface ImageNodeOptions {
  auth?: RegistryAuth;
  /** default busybox:v1 */
  repository?: string;
  node?: Parameters<typeof startTestNode>[1];
}

/** startImageNode starts the fixture (see the file comment). */
export async function startImageNode(o: ImageNodeOptions = {}): Promise<ImageNode> {
  const server = await startNatsServer();
  const registry = await startRegistry(o.auth);
  const image = `${registry.domain}/${o.repository ?? 'busybox:v1'}`;
  const src = await mkdtemp(join(tmpdir(), 'gitcell-image-src-'));
  const cache = await mkdtemp(join(tmpdir(), 'gitcell-image-cache-'));
  try {
    await buildBusyboxImage(src, image);
    const credentials = o.auth && o.auth.kind !== 'none' ? { credentials: { username: o.auth.username, password: o.auth.password } } : {};
    await pushImage(new ImageStore(src), image, credentials);
  } finally {
    await rm(src, { recursive: true, force: true });
  }
  const node = await startTestNode(server, { imageRoot: cache, ...o.node });
  return {
    server, registry, node, image,
    async stop() {
      const left = await leaks(node);
      await node.close();
      await registry.stop();
      await server.stop();
      await rm(cache, { recursive: true, force: true });
      return left;
    },
  };
}
