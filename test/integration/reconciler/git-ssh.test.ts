// Git over SSH against a real sshd on 127.0.0.1 (its own host key and config): the remote source
// fetches with a deploy key from a sealed Secret and the server's host key pinned, the revert is
// pushed back over the same transport, and an unknown host key, a missing pin or a wrong key are
// refused with a clear error. `gitcell plan` reads an SSH remote through the binary, as a user runs it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { dump } from 'js-yaml';
import { silentLogger } from '../../../lib/log.ts';
import { createRemoteSource } from '../../../reconciler/source/index.ts';
import { revertCommit, type GitAuth } from '../../../reconciler/git/index.ts';
import { Keyring, sealValue } from '../../../secrets/index.ts';
import { gitAuthFromFlags } from '../../../cli/git-auth.ts';
import { makeRepo } from '../../helpers/git-cli-repo.ts';
import { makeHostKeyLine, startSshd, type SshServer } from '../../helpers/sshd.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const job = (name: string, image: string) =>
  `apiVersion: gitcell.io/v1\nkind: Job\nmetadata:\n  name: ${name}\nspec:\n  owner: team-web\n  type: batch\n  template:\n    image: ${image}\n    resources:\n      requests: {cpu: 50m, memory: 16Mi}\n`;

function tempDir(t: { after(fn: () => void): void }, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** served starts sshd with a repository holding two commits pushed by a user; returns both. */
async function served(t: { after(fn: () => unknown): void }): Promise<{ srv: SshServer; url: string; bare: string; good: string; bad: string }> {
  const srv = await startSshd();
  t.after(() => srv.close());
  const { url, path } = srv.createBareRepo('cluster');
  const work = makeRepo({ remote: path });
  t.after(() => work.cleanup());
  const good = work.commit({ 'web.yaml': job('web', 'web:1') }, 'web 1');
  const bad = work.commit({ 'web.yaml': job('web', 'web:2') }, 'web 2');
  work.git('push', '--quiet', 'origin', 'main', `${good}:refs/heads/stable`);
  return { srv, url, bare: path, good, bad };
}

const tmpfsLeftovers = () => readdirSync('/dev/shm').filter((f) => f.startsWith('gitcell-ssh-'));

test('an SSH remote with a deploy key from a sealed Secret and a pinned host key: fetched, and the revert pushed back over SSH', async (t) => {
  const { srv, url, bare, bad } = await served(t);
  const stateDir = tempDir(t, 'gitcell-ssh-state-');
  // The operator seals the deploy key and the host key line to the cluster, as `gitcell secret seal` does.
  const keyring = await Keyring.open(stateDir, { modulusLength: 2048 });
  const seal = (key: string, value: string) => sealValue(keyring.publicKeyPem(), { namespace: 'default', name: 'git-deploy', key }, value);
  const secretFile = join(stateDir, 'git-deploy.yaml');
  const pem = execFileSync('cat', [srv.deployKey], { encoding: 'utf8' });
  writeFileSync(secretFile, dump({ apiVersion: 'gitcell.io/v1', kind: 'Secret', metadata: { name: 'git-deploy', namespace: 'default' }, spec: { encryptedData: { identity: seal('identity', pem), known_hosts: seal('known_hosts', srv.knownHosts) } } }));
  const auth = (await gitAuthFromFlags({ gitSecret: secretFile }, stateDir))!;
  assert.ok(auth.ssh?.identity && !auth.ssh.identityFile, 'the key comes from the Secret, not a file');

  const source = createRemoteSource({ repo: url, stateDir, auth, pollIntervalMs: 3_600_000 }, silentLogger());
  t.after(() => source.stop());
  const seen: string[] = [];
  await source.start((r) => seen.push(r.sha));
  assert.deepEqual(seen, [bad]);

  const r = await revertCommit({ gitdir: source.gitdir, branch: 'main', trackingRef: source.trackingRef, commit: bad, message: (s) => `Revert "${s}"\n`, remote: { url, auth } });
  assert.ok(r.outcome === 'reverted' && r.pushed, JSON.stringify(r));
  assert.equal(execFileSync('/usr/bin/git', [`--git-dir=${bare}`, 'rev-parse', 'main'], { encoding: 'utf8' }).trim(), r.sha, 'the revert is on the served branch');
  assert.equal(await source.refresh(), r.sha);
  assert.deepEqual(tmpfsLeftovers(), [], 'the deploy key was on tmpfs only while git ran');
});

test('an unknown host key, no pinned host key, or a wrong deploy key is refused with a clear error', async (t) => {
  const { srv, url } = await served(t);
  const stateDir = tempDir(t, 'gitcell-ssh-state-');
  const fetchWith = async (auth: GitAuth) => {
    const source = createRemoteSource({ repo: url, stateDir, auth, pollIntervalMs: 3_600_000 }, silentLogger());
    try {
      await source.start(() => undefined);
      return undefined;
    } catch (err) {
      return err as Error & { code?: string };
    } finally {
      await source.stop();
    }
  };
  // An impostor on the same address (another host key): ssh refuses before authenticating.
  const impostor = await fetchWith({ ssh: { identityFile: srv.deployKey, knownHosts: makeHostKeyLine(srv.port) } });
  assert.equal(impostor?.code, 'E_GIT_HOST_KEY', String(impostor));
  assert.match(impostor!.message, /the server's SSH host key is not the pinned one \(not in known_hosts, or changed\): refused .*Host key verification failed/);
  // Nothing pinned: refused before connecting, never trusted on first use.
  const unpinned = await fetchWith({ ssh: { identityFile: srv.deployKey } });
  assert.equal(unpinned?.code, 'E_GIT_HOST_KEY');
  assert.match(unpinned!.message, /needs the server's host key pinned .*never trusts a host key on first use/);
  // The right host, a key it does not know.
  const other = join(stateDir, 'other');
  execFileSync('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
  const wrongKey = await fetchWith({ ssh: { identityFile: other, knownHosts: srv.knownHosts } });
  assert.equal(wrongKey?.code, 'E_GIT_AUTH');
  assert.match(wrongKey!.message, /authentication failed \(.*Permission denied \(publickey\)/);
  assert.deepEqual(tmpfsLeftovers(), []);
});

test('gitcell plan reads an SSH remote through the binary with --ssh-key and --known-hosts', async (t) => {
  const { srv, url } = await served(t);
  const stateDir = tempDir(t, 'gitcell-ssh-state-');
  const knownHosts = join(stateDir, 'known_hosts');
  writeFileSync(knownHosts, srv.knownHosts);
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [join(ROOT, 'cli/bin.js'), 'plan', '--repo', url, '--ref', 'main', '--base', 'stable', '--cluster-dir', stateDir, '--ssh-key', srv.deployKey, '--known-hosts', knownHosts, '-o', 'json'],
    { encoding: 'utf8', timeout: 180_000, env: { ...process.env, NO_COLOR: '1' } },
  );
  const plan = JSON.parse(stdout) as { diff?: { update?: { key?: string }[] } };
  assert.match(JSON.stringify(plan), /web:2/, stdout);
});
