// ensureImage against real docker-registry instances: pull policies (Always refreshes a moved tag
// by digest, IfNotPresent keeps what it has, Never never asks), mirrors tried before the image's
// registry, and credentials from a docker config.json matched by host.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureImage, importRootfs, parseDockerConfig, pushImage } from '../../../runtime/index.ts';
import { isGitcellError } from '../../../lib/errors.ts';
import { freePort, registryStarter } from '../../helpers/registry.ts';
import { scratch } from '../../helpers/runtime.ts';

const tmp = scratch();
const registry = registryStarter(tmp);

let rootfs: string;
before(async () => {
  rootfs = await tmp.busyboxRootfs();
});

/** publish imports the busybox rootfs with /version holding `version` and pushes it as `ref`. */
async function publish(ref: string, version: string, credentials?: { username: string; password: string }): Promise<string> {
  await writeFile(join(rootfs, 'version'), version);
  const src = await tmp.imageStore();
  const img = await importRootfs(src, rootfs, ref);
  await pushImage(src, ref, credentials ? { credentials } : {});
  return img.manifestDigest;
}

const auths = (host: string, username: string, password: string) =>
  parseDockerConfig(JSON.stringify({ auths: { [`http://${host}/v2/`]: { auth: Buffer.from(`${username}:${password}`).toString('base64') } } }), 'test config.json');

test(':latest defaults to Always and is refreshed when the tag moves; IfNotPresent keeps the old digest; Never refuses a missing image', async () => {
  const reg = await registry();
  const ref = `${reg.domain}/team/app:latest`;
  const first = await publish(ref, 'one');
  const store = await tmp.imageStore();
  assert.deepEqual(await ensureImage(store, ref), { ref, pulled: true, from: reg.domain });
  // Same digest upstream: Always asks, and pulls nothing.
  assert.deepEqual(await ensureImage(store, ref), { ref, pulled: false, from: reg.domain });
  const second = await publish(ref, 'two');
  assert.notEqual(first, second);
  // IfNotPresent: the node keeps what it has.
  assert.equal((await ensureImage(store, ref, { policy: 'IfNotPresent' })).pulled, false);
  assert.equal((await store.resolve(ref)).manifestDigest, first);
  // Always (the default for :latest): the new digest is pulled.
  assert.equal((await ensureImage(store, ref)).pulled, true);
  assert.equal((await store.resolve(ref)).manifestDigest, second);
  // A pinned tag defaults to IfNotPresent; Never never pulls.
  const pinned = `${reg.domain}/team/app:1.0`;
  await publish(pinned, 'pinned');
  await assert.rejects(ensureImage(store, pinned, { policy: 'Never' }), (e) => isGitcellError(e, 'E_IMAGE_NOT_PRESENT') && /imagePullPolicy is Never/.test(e.message));
  assert.equal((await ensureImage(store, pinned)).pulled, true);
  assert.equal((await ensureImage(store, pinned, { policy: 'Never' })).pulled, false);
});

test('basic and bearer-token registries: credentials from a docker config.json by host; none or wrong ones are refused clearly', async () => {
  for (const kind of ['basic', 'token'] as const) {
    const reg = await registry({ kind, username: 'alice', password: 'pw-right' });
    const ref = `${reg.domain}/private/app:1`;
    await publish(ref, kind, { username: 'alice', password: 'pw-right' });
    const store = await tmp.imageStore();
    await assert.rejects(ensureImage(store, ref), (e) => isGitcellError(e, 'E_REGISTRY_UNAUTHORIZED') && (kind === 'basic' ? /none were given: a pull Secret/ : /refused anonymous access/).test(e.message), kind);
    await assert.rejects(ensureImage(store, ref, { auths: auths(reg.domain, 'alice', 'wrong') }), (e) => isGitcellError(e, 'E_REGISTRY_UNAUTHORIZED') && /alice/.test(e.message), kind);
    // Credentials for another host are not sent here.
    await assert.rejects(ensureImage(store, ref, { auths: auths('127.0.0.1:1', 'alice', 'pw-right') }), (e) => isGitcellError(e, 'E_REGISTRY_UNAUTHORIZED'), kind);
    assert.equal((await ensureImage(store, ref, { auths: auths(reg.domain, 'alice', 'pw-right') })).pulled, true, kind);
    assert.equal((await store.resolve(ref)).layers.length, 1);
  }
});

test('mirrors are tried first; a mirror that is down or lacks the image falls through to the registry', async () => {
  const origin = await registry();
  const mirror = await registry({ kind: 'basic', username: 'm', password: 'mp' });
  const ref = `${origin.domain}/lib/app:2`;
  const digest = await publish(ref, 'origin');
  // The mirror holds the same repository path (as a pull-through cache would).
  const mirrored = await publish(`${mirror.domain}/lib/app:2`, 'mirror', { username: 'm', password: 'mp' });
  const store = await tmp.imageStore();
  const r = await ensureImage(store, ref, { mirrors: { [origin.domain]: [`http://${mirror.domain}`] }, auths: auths(mirror.domain, 'm', 'mp') });
  assert.deepEqual(r, { ref, pulled: true, from: mirror.domain });
  assert.equal((await store.resolve(ref)).manifestDigest, mirrored, 'stored under the image name, served by the mirror');

  const down = `127.0.0.1:${await freePort()}`;
  const other = await tmp.imageStore();
  const fell = await ensureImage(other, ref, { mirrors: { [origin.domain]: [down, mirror.domain] } });
  // The second mirror wants credentials this pull lacks: both mirrors fail, the registry serves.
  assert.deepEqual(fell, { ref, pulled: true, from: origin.domain });
  assert.equal((await other.resolve(ref)).manifestDigest, digest);

  // Every endpoint failing: the registry's own error, naming what the mirrors said.
  await origin.stop();
  await assert.rejects(ensureImage(await tmp.imageStore(), ref, { mirrors: { [origin.domain]: [down] } }), (e) =>
    isGitcellError(e, 'E_REGISTRY_UNREACHABLE') && e.message.includes(`after mirror ${down}:`));
});

test('a malformed docker config.json is refused naming where it came from', () => {
  assert.throws(() => parseDockerConfig('{"auths": {"r.example": {}}}', 'Secret default/regcred key .dockerconfigjson'), (e) =>
    isGitcellError(e, 'E_REGISTRY_CONFIG_INVALID') && /Secret default\/regcred key \.dockerconfigjson: auths\["r.example"\] has neither/.test(e.message));
  assert.throws(() => parseDockerConfig('not json', 'f'), (e) => isGitcellError(e, 'E_REGISTRY_CONFIG_INVALID'));
  const hub = parseDockerConfig(JSON.stringify({ auths: { 'https://index.docker.io/v1/': { username: 'u', password: 'p' } } }), 'f');
  assert.deepEqual([...hub], [['docker.io', { username: 'u', password: 'p' }]]);
});
