/**
 * NATS identities of a `gitcell up` cluster: one nkey user for the control plane (reconciler,
 * scheduler, admin CLI), one for the autoscaler (the only writer of live replica counts; the
 * reconciler connects with it a second time), one read-only viewer (client commands that only
 * read), and one per node agent, kept as bare seeds in the state dir (0600) so a second `up` reuses them and client commands
 * find them by themselves. The server config admits nobody else (no anonymous user).
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { UsageError } from '../../lib/errors.ts';
import { agentPermissions, newUserSeed, nkeySigner, authorizationConfig, autoscalerPermissions, controlPermissions, viewerPermissions, AUTOSCALER_SEED_FILE, CONTROL_SEED_FILE, VIEWER_SEED_FILE, type NatsUser } from '../../store/index.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** ClusterIdentities are the seed files and the server configuration that admits them. */
export interface ClusterIdentities {
  controlSeedFile: string;
  autoscalerSeedFile: string;
  viewerSeedFile: string;
  agentSeedFiles: Map<string, string>;
  /** authorization block for nats-server (controlPermissions, autoscalerPermissions, viewerPermissions, agentPermissions) */
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
      const pub = nkeySigner(text).publicKey;
      await chmod(file, 0o600);
      return pub;
    } catch (err) {
      throw new UsageError(ErrorCodes.BadSeed, `${file}: not an nkey user seed (${(err as Error).message}); delete it to make a new one`, { file });
    }
  }
  const seed = newUserSeed();
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${seed}\n`, { mode: 0o600 });
  return nkeySigner(seed).publicKey;
}

/** ensureIdentities creates (or reuses) the control, autoscaler, viewer and agent seeds and renders the server's authorization. */
export async function ensureIdentities(stateDir: string, nodes: string[], prefix?: string): Promise<ClusterIdentities> {
  const controlSeedFile = join(stateDir, CONTROL_SEED_FILE);
  const viewerSeedFile = join(stateDir, VIEWER_SEED_FILE);
  const autoscalerSeedFile = join(stateDir, AUTOSCALER_SEED_FILE);
  const control = await ensureSeed(controlSeedFile);
  const viewer = await ensureSeed(viewerSeedFile);
  const autoscaler = await ensureSeed(autoscalerSeedFile);
  const users: NatsUser[] = [
    { nkey: control, permissions: controlPermissions(control, prefix) },
    { nkey: autoscaler, permissions: autoscalerPermissions(autoscaler, prefix) },
    { nkey: viewer, permissions: viewerPermissions(viewer, prefix) },
  ];
  const agentSeedFiles = new Map<string, string>();
  for (const node of nodes) {
    const file = agentSeedFile(stateDir, node);
    agentSeedFiles.set(node, file);
    const pub = await ensureSeed(file);
    users.push({ nkey: pub, permissions: agentPermissions(node, pub, prefix) });
  }
  return { controlSeedFile, autoscalerSeedFile, viewerSeedFile, agentSeedFiles, serverConfig: authorizationConfig(users) };
}
