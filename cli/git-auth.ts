/**
 * Git remote authentication flags shared by `gitcell reconciler`, `plan` and `rollout undo`: an SSH
 * deploy key (a file, or a sealed Secret opened with the cluster's sealing keys, so the key is never
 * in Git or on disk in plaintext) and the server's host keys, pinned (never trusted on first use).
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { Keyring, openSecret } from '../secrets/index.ts';
import { sshAuthFromSecret, type GitAuth, type SshAuth } from '../reconciler/index.ts';
import { DEFAULT_STATE_DIR } from '../store/index.ts';

/** GitAuthFlags are the flags addGitAuthOptions adds. */
export interface GitAuthFlags {
  sshKey?: string;
  knownHosts?: string;
  gitSecret?: string;
}

/** addGitAuthOptions adds --ssh-key, --known-hosts and --git-secret to a command. */
export function addGitAuthOptions(cmd: Command): Command {
  return cmd
    .option('--ssh-key <file>', 'SSH remote: the deploy key (private key file, mode 0600)')
    .option('--known-hosts <file>', "SSH remote: known_hosts holding the server's host key (required: keys are never trusted on first use)")
    .option('--git-secret <file>', 'SSH remote: a sealed Secret manifest (gitcell secret seal --from-file identity=KEY --from-file known_hosts=FILE) opened with the sealing keys of --cluster-dir');
}

/**
 * gitAuthFromFlags resolves the flags into the auth of a remote; undefined when none is given.
 * A Secret is opened with the key ring of `stateDir`; --ssh-key and --known-hosts win over its values.
 */
export async function gitAuthFromFlags(flags: GitAuthFlags, stateDir: string | undefined): Promise<GitAuth | undefined> {
  if (!flags.sshKey && !flags.knownHosts && !flags.gitSecret) return undefined;
  let ssh: SshAuth = {};
  if (flags.gitSecret) {
    const keyring = await Keyring.open(resolve(stateDir ?? DEFAULT_STATE_DIR));
    ssh = sshAuthFromSecret(resolve(flags.gitSecret), (secret) => openSecret(secret, { privateKeyFor: (id) => keyring.privateKey(id) }));
  }
  if (flags.sshKey) {
    delete ssh.identity;
    ssh.identityFile = resolve(flags.sshKey);
  }
  if (flags.knownHosts) {
    delete ssh.knownHosts;
    ssh.knownHostsFile = resolve(flags.knownHosts);
  }
  return { ssh };
}
