/**
 * NATS identities of a `gitcell up` cluster: one nkey user for the control plane (reconciler,
 * scheduler, CLI) and one per node agent, kept as bare seeds in the state dir (0600) so a second
 * `up` reuses them and client commands find the control seed by themselves.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createUser, fromSeed } from '@nats-io/nkeys';
import { GitcellError } from '../../lib/errors.ts';
import { agentPermissions, authorizationConfig, CONTROL_SEED_FILE, type NatsUser } from '../../store/index.ts';

/** ClusterIdentities are the seed files and the server configuration that admits them. */
export interface ClusterIdentities {
  controlSeedFile: string;
  agentSeedFiles: Map<string, string>;
  /** authorization block for nats-server (control: full access; agents: agentPermissions) */
  serverConfig: string;
}

/** agentSeedFile is where the nkey seed of a node's agent lives. */
export function agentSeedFile(stateDir: string, node: string): string {
  return join(stateDir, 'nodes', node, 'agent.nk');
}

/** ensureSeed returns the public key of the user seed in `file`, creating the seed on first use. */
async function ensureSeed(file: string): Promise<string> {
  if (existsSync(file)) {
    const text = (await readFile(file, 'utf8')).trim();
    try {
      const pub = fromSeed(new TextEncoder().encode(text)).getPublicKey();
      await chmod(file, 0o600);
      return pub;
    } catch (err) {
      throw new GitcellError('E_BAD_SEED', `${file}: not an nkey user seed (${(err as Error).message}); delete it to make a new one`, { file });
    }
  }
  const kp = createUser();
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${new TextDecoder().decode(kp.getSeed())}\n`, { mode: 0o600 });
  return kp.getPublicKey();
}

/** ensureIdentities creates (or reuses) the control and agent seeds and renders the server's authorization. */
export async function ensureIdentities(stateDir: string, nodes: string[], prefix?: string): Promise<ClusterIdentities> {
  const controlSeedFile = join(stateDir, CONTROL_SEED_FILE);
  const users: NatsUser[] = [{ nkey: await ensureSeed(controlSeedFile) }];
  const agentSeedFiles = new Map<string, string>();
  for (const node of nodes) {
    const file = agentSeedFile(stateDir, node);
    agentSeedFiles.set(node, file);
    users.push({ nkey: await ensureSeed(file), permissions: agentPermissions(node, prefix) });
  }
  return { controlSeedFile, agentSeedFiles, serverConfig: authorizationConfig(users) };
}
