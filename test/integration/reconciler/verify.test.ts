// Only trusted commits reach the cluster: real keys made here (ssh-keygen, gpg --batch in a temp
// GNUPGHOME), the attacker's among them, checked by the real git verify-commit.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import type { Job } from '../../../api/index.ts';
import { silentLogger } from '../../../lib/index.ts';
import {
  ensureSigningKey, prepareTrustStore, revertCommit, sourceStatusKey, verifyRevision,
  type SyncStatus, type TrustStore,
} from '../../../reconciler/index.ts';
import { createSource, resolveLocalRepo } from '../../../reconciler/source/index.ts';
import { startReconcilerService } from '../../../reconciler/service/index.ts';
import { gitEnv } from '../../helpers/git-http.ts';
import { makeRepo, type TestRepo } from '../../helpers/git-cli-repo.ts';
import { openTestStore } from '../../helpers/store.ts';
import { waitFor } from '../../helpers/wait.ts';
import { startSim } from './sim.ts';

const GIT = '/usr/bin/git';
const log = silentLogger();

interface Keys {
  dir: string;
  /** SSH private keys (absolute paths): alice is allowed, mallory is not. */
  alice: string;
  mallory: string;
  /** OpenPGP: one GNUPGHOME with both secret keys; bob is allowed, eve is not. */
  gnupg: string;
  bob: string;
  eve: string;
  allowedSigners: string;
  bobPublic: string;
}

function makeKeys(t: TestContext): Keys {
  const dir = mkdtempSync(join(tmpdir(), 'gitcell-keys-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ssh = (name: string) => {
    execFileSync('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', join(dir, name)]);
    return join(dir, name);
  };
  const alice = ssh('alice');
  const mallory = ssh('mallory');
  const allowedSigners = join(dir, 'allowed_signers');
  writeFileSync(allowedSigners, `alice@example.com namespaces="git" ${readFileSync(`${alice}.pub`, 'utf8').trim()}\n`);
  const gnupg = join(dir, 'gnupg');
  execFileSync('/usr/bin/install', ['-d', '-m', '700', gnupg]);
  const gpg = (...args: string[]) => execFileSync('/usr/bin/gpg', ['--batch', '--quiet', ...args], { env: { ...process.env, GNUPGHOME: gnupg }, encoding: 'utf8' });
  const pgp = (uid: string) => {
    gpg('--passphrase', '', '--quick-gen-key', uid, 'ed25519', 'sign', 'never');
    return /^fpr:+([0-9A-F]{40}):/m.exec(gpg('--with-colons', '--list-keys', uid))![1]!;
  };
  const bob = pgp('Bob <bob@example.com>');
  const eve = pgp('Eve <eve@example.com>');
  const bobPublic = join(dir, 'bob.asc');
  writeFileSync(bobPublic, gpg('--armor', '--export', bob));
  t.after(() => {
    try {
      execFileSync('/usr/bin/gpgconf', ['--kill', 'all'], { env: { ...process.env, GNUPGHOME: gnupg } });
    } catch {
      // no agent was started
    }
  });
  return { dir, alice, mallory, gnupg, bob, eve, allowedSigners, bobPublic };
}

/** signedCommit commits `files` with a real `git commit -S`, by SSH key file or OpenPGP fingerprint. */
function signedCommit(repo: TestRepo, keys: Keys, files: Record<string, string>, message: string, signer?: { ssh: string } | { pgp: string }): string {
  for (const [path, content] of Object.entries(files)) writeFileSync(join(repo.dir, path), content);
  repo.git('add', '-A');
  const sign = !signer ? [] : 'ssh' in signer ? ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${signer.ssh}`] : ['-c', `user.signingkey=${signer.pgp}`];
  execFileSync(GIT, [...sign, 'commit', '-q', '--allow-empty', ...(signer ? ['-S'] : []), '-m', message], { cwd: repo.dir, env: { ...gitEnv(), GNUPGHOME: keys.gnupg } });
  return repo.head();
}

/** tamper rewrites commit `sha` with `edit` applied to its raw text (signature kept) and returns the new id. */
function tamper(repo: TestRepo, sha: string, edit: (raw: string) => string): string {
  const raw = execFileSync(GIT, ['cat-file', 'commit', sha], { cwd: repo.dir, encoding: 'utf8' });
  const forged = edit(raw);
  assert.notEqual(forged, raw);
  return execFileSync(GIT, ['hash-object', '-t', 'commit', '-w', '--stdin'], { cwd: repo.dir, input: forged, encoding: 'utf8' }).trim();
}

async function trustFor(t: TestContext, keys: Keys, clusterPublicKey?: string): Promise<TrustStore> {
  const dir = mkdtempSync(join(tmpdir(), 'gitcell-trust-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return prepareTrustStore({ dir, allowedSignersFile: keys.allowedSigners, gpgKeysFile: keys.bobPublic, ...(clusterPublicKey ? { clusterPublicKey } : {}) });
}

const refused = (pattern: RegExp) => (err: Error & { code?: string }) => {
  assert.equal(err.code, 'E_UNTRUSTED_COMMIT', err.message);
  assert.match(err.message, pattern);
  return true;
};

test('allowed SSH and OpenPGP signatures pass; the attacker\'s key, no signature and tampered signatures are refused', async (t) => {
  const keys = makeKeys(t);
  const trust = await trustFor(t, keys);
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  const gitdir = resolveLocalRepo(repo.dir).gitdir;
  const check = (tip: string, mode: 'tip' | 'all' = 'tip', lastApplied?: string) => verifyRevision({ gitdir, tip, mode, trust, ...(lastApplied ? { lastApplied } : {}) });

  const a = signedCommit(repo, keys, { 'a.yaml': 'a: 1\n' }, 'alice signs (SSH)', { ssh: keys.alice });
  assert.deepEqual(await check(a), { verified: [a] });
  const b = signedCommit(repo, keys, { 'b.yaml': 'b: 1\n' }, 'bob signs (OpenPGP)', { pgp: keys.bob });
  assert.deepEqual(await check(b, 'all', a), { verified: [b] });

  // The attacker's own keys, a key of each kind the allowed list does not hold.
  const m = signedCommit(repo, keys, { 'm.yaml': 'm: 1\n' }, 'mallory signs (SSH)', { ssh: keys.mallory });
  await assert.rejects(check(m), refused(new RegExp(`tip commit ${m.slice(0, 12)} "mallory signs \\(SSH\\)" is signed by an SSH key that is not in the allowed list`)));
  repo.git('reset', '-q', '--hard', b);
  const e = signedCommit(repo, keys, { 'e.yaml': 'e: 1\n' }, 'eve signs (OpenPGP)', { pgp: keys.eve });
  await assert.rejects(check(e), refused(/is signed by an OpenPGP key that is not in the allowed list/));

  // An unsigned commit on top of a signed one.
  repo.git('reset', '-q', '--hard', b);
  const u = signedCommit(repo, keys, { 'u.yaml': 'u: 1\n' }, 'unsigned');
  await assert.rejects(check(u), refused(/tip commit [0-9a-f]{12} "unsigned" is not signed/));
  // A signed tip over an unsigned commit: `tip` lets it through, `all` does not.
  const s = signedCommit(repo, keys, { 's.yaml': 's: 1\n' }, 'alice signs over the unsigned one', { ssh: keys.alice });
  assert.deepEqual(await check(s, 'tip', b), { verified: [s] });
  await assert.rejects(check(s, 'all', b), refused(new RegExp(`commit \\(one of 2 since the last applied revision\\) ${u.slice(0, 12)} "unsigned" is not signed`)));

  // Tampered: alice's signed commit with another tree (the signature copied), or with a changed signature.
  const otherTree = repo.git('rev-parse', `${u}^{tree}`);
  const moved = tamper(repo, a, (raw) => raw.replace(/^tree [0-9a-f]{40}$/m, `tree ${otherTree}`));
  await assert.rejects(check(moved), refused(/has a signature that does not match its content \(tampered\)|is signed by an SSH key that is not in the allowed list|has no valid signature/));
  const pgpMoved = tamper(repo, b, (raw) => raw.replace('bob signs (OpenPGP)', 'bob signs (OpenPGP) and more'));
  await assert.rejects(check(pgpMoved), refused(/does not match its content \(tampered\)/));
  const garbled = tamper(repo, a, (raw) => raw.replace(/(-----BEGIN SSH SIGNATURE-----\n [A-Za-z0-9+/]{10})([A-Za-z0-9+/])/, (_m, p: string, c: string) => `${p}${c === 'A' ? 'B' : 'A'}`));
  await assert.rejects(check(garbled), refused(/(tampered|not in the allowed list|no valid signature)/));
});

function job(name: string, image: string): string {
  const j: Job = {
    apiVersion: 'gitcell.io/v1',
    kind: 'Job',
    metadata: { name, namespace: 'default' },
    spec: {
      type: 'service', replicas: 1, priority: 'production',
      template: { image, resources: { requests: { cpu: '100m', memory: '64Mi' } } },
      strategy: { maxUnavailable: 1, maxSurge: 1, progressDeadlineSeconds: 2 },
    },
  };
  return dump(j);
}

test('a verifying reconciler stalls untrusted tips with the reason and applies nothing of them', async (t) => {
  const keys = makeKeys(t);
  const stateDir = mkdtempSync(join(tmpdir(), 'gitcell-state-'));
  t.after(() => rmSync(stateDir, { recursive: true, force: true }));
  const signing = await ensureSigningKey(join(stateDir, 'git-signing', 'id_ed25519'));
  const trust = await trustFor(t, keys, signing.publicKey);
  const { store } = await openTestStore(t, { tag: 'v', log });
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  const c1 = signedCommit(repo, keys, { 'web.yaml': job('web', 'web:1') }, 'web 1', { ssh: keys.alice });

  const sim = await startSim(store, { nodes: ['n1'], ready: () => true });
  const source = createSource({ repo: repo.dir, safetyPollMs: 300 }, log);
  const svc = await startReconcilerService({ store, source, leaseMs: 1500, log, verify: { mode: 'tip', trust }, signingKey: signing.keyFile });
  t.after(async () => {
    await svc.stop();
    await sim.stop();
  });
  const status = async () => (await store.sync.get(sourceStatusKey('main')))?.value as SyncStatus | undefined;
  const image = async () => (await store.desired.list()).map((r) => (r.value.object as unknown as Job).spec.template.image).join(',');
  await waitFor('c1 applied', async () => (await status())?.lastAppliedRevision === c1);

  // The attacker pushes an unsigned commit, then one signed by a key not on the list: both Stalled.
  for (const [what, signer] of [['unsigned', undefined], ['mallory', { ssh: keys.mallory }]] as const) {
    const bad = signedCommit(repo, keys, { 'web.yaml': job('web', `web:${what}`) }, `web by ${what}`, signer);
    const s = await waitFor(`${what} Stalled`, async () => {
      const st = await status();
      return st?.conditions.find((c) => c.type === 'Stalled' && c.status === 'True' && c.message.includes(bad.slice(0, 12))) ? st : undefined;
    });
    const stalled = s.conditions.find((c) => c.type === 'Stalled')!;
    assert.equal(stalled.reason, 'E_UNTRUSTED_COMMIT');
    assert.match(stalled.message, what === 'unsigned' ? /is not signed/ : /not in the allowed list/);
    assert.equal(s.lastAppliedRevision, c1, 'nothing of it applied');
    assert.equal(await image(), 'web:1');
  }

  // Bob (OpenPGP, allowed) fixes it: applied.
  const c2 = signedCommit(repo, keys, { 'web.yaml': job('web', 'web:2') }, 'web 2', { pgp: keys.bob });
  await waitFor('c2 applied', async () => (await status())?.lastAppliedRevision === c2);
  assert.equal(await image(), 'web:2');
});

test("gitcell's revert is signed with the cluster key (ssh-keygen through git commit-tree -S), which the allowed list includes", async (t) => {
  const keys = makeKeys(t);
  const stateDir = mkdtempSync(join(tmpdir(), 'gitcell-state-'));
  t.after(() => rmSync(stateDir, { recursive: true, force: true }));
  const signing = await ensureSigningKey(join(stateDir, 'git-signing', 'id_ed25519'));
  assert.equal(statSync(signing.keyFile).mode & 0o777, 0o600);
  assert.deepEqual(await ensureSigningKey(signing.keyFile), signing, 'generated once, then reused');
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  signedCommit(repo, keys, { 'web.yaml': job('web', 'web:1') }, 'web 1', { ssh: keys.alice });
  const bad = signedCommit(repo, keys, { 'web.yaml': job('web', 'web:bad') }, 'web: bad image', { pgp: keys.bob });
  const { gitdir, dir } = resolveLocalRepo(repo.dir);
  const r = await revertCommit({ gitdir, dir, branch: 'main', trackingRef: 'refs/heads/main', commit: bad, message: (s) => `Revert "${s}"\n`, signingKey: signing.keyFile });
  assert.ok(r.outcome === 'reverted', JSON.stringify(r));
  assert.equal(repo.head(), r.sha);
  assert.equal(repo.git('log', '-1', '--format=%an <%ae>|%s'), 'gitcell <gitcell@localhost>|Revert "web: bad image"');
  assert.equal(repo.git('status', '--porcelain'), '');
  assert.match(repo.git('cat-file', 'commit', r.sha), /-----BEGIN SSH SIGNATURE-----/);
  const withCluster = await trustFor(t, keys, signing.publicKey);
  assert.deepEqual(await verifyRevision({ gitdir, tip: r.sha, mode: 'all', trust: withCluster, lastApplied: bad }), { verified: [r.sha] });
  // Without the cluster key on the list the same revert is refused: the key is what makes it trusted.
  await assert.rejects(verifyRevision({ gitdir, tip: r.sha, mode: 'tip', trust: await trustFor(t, keys) }), refused(/not in the allowed list/));
});
