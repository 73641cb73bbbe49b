// Secret environment values never reach the disk: a container given `secretEnv` has its config.json
// on a tmpfs of its own, so grepping every persistent file of the runtime root (bundles, runc state,
// logs, layers) while it runs and after it exits finds nothing, and the process still sees the value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { useRuntimeFixture } from '../../helpers/runtime.ts';
import { filesHolding } from '../../helpers/persistent.ts';
import { isMounted } from '../../../runtime/index.ts';
import { isMemoryBacked, secretBundleDir } from '../../../runtime/container/index.ts';

const fx = useRuntimeFixture('secret-env');

test('a secretEnv value is seen by the process and found in no persistent file of the runtime root', async () => {
  const secret = `tok-${randomBytes(16).toString('hex')}`;
  // The process prints a hash of the value, never the value: its logs are on disk on purpose.
  const c = await fx.manager.run({
    image: fx.image, env: ['PLAIN=visible', 'TOKEN=from-env'], secretEnv: [`TOKEN=${secret}`],
    command: ['sh', '-c', 'printf %s "$TOKEN" | sha256sum; echo plain=$PLAIN; echo ready; sleep 1000'],
  });
  const bundle = secretBundleDir(fx.manager.pathsOf(c.id).state);
  assert.ok(isMounted(bundle), 'the bundle is a mount of its own');
  const deadline = Date.now() + 60_000;
  while (!fx.manager.logs(c.id).some((l) => l.text === 'ready')) {
    assert.ok(Date.now() < deadline, 'the container printed ready');
    await new Promise((r) => setTimeout(r, 50));
  }
  const out = fx.manager.logs(c.id).map((l) => l.text);
  assert.equal(out[0]!.split(' ')[0], createHash('sha256').update(secret).digest('hex'), 'secretEnv overrides env and reaches the process');
  assert.equal(out[1], 'plain=visible');
  assert.deepEqual(filesHolding([fx.root], secret), [], 'no persistent file holds the value while the container runs');
  assert.ok(filesHolding([fx.root], c.id).length > 0, 'the walk does read the container files (container.json names the id)');
  await fx.manager.stop(c.id, { timeoutMs: 1000 });
  assert.deepEqual(filesHolding([fx.root], secret), [], 'nor after it exited');
  await fx.manager.delete(c.id);
  assert.equal(isMounted(bundle), false, 'delete unmounts the in-memory bundle');
});

test('without secretEnv config.json is in the state directory: on a tmpfs, even plain values stay off the disk', async () => {
  const marker = `plain-${randomBytes(8).toString('hex')}`;
  const c = await fx.manager.create({ image: fx.image, env: [`PLAIN=${marker}`], command: ['true'] });
  const config = join(fx.manager.pathsOf(c.id).state, 'config.json');
  assert.ok(fs.readFileSync(config, 'utf8').includes(marker), 'config.json holds the plain value');
  // The walk skips memory-backed file systems: the state directory is one unless no tmpfs exists (ROOT/state).
  assert.deepEqual(filesHolding([fx.root, fx.manager.stateRoot], marker), isMemoryBacked(fx.manager.stateRoot) ? [] : [config]);
  await fx.manager.delete(c.id);
});
