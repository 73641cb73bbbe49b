// lib/net.ts freePort: a bindable port below the kernel's ephemeral range (where outgoing
// connections take their source ports), so nothing but another listener can take it before its bind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { ephemeralLow, freePort } from '../../../lib/net.ts';

test('freePort picks distinct bindable ports below the ephemeral range', async () => {
  const low = ephemeralLow();
  assert.ok(low > 10_000, `ephemeral range starts at ${low}`);
  const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
  for (const port of ports) {
    assert.ok(port >= 10_000 && port < low, `${port} is below ${low}`);
    await new Promise<void>((resolve, reject) => {
      const srv = createServer();
      srv.on('error', reject);
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve()));
    });
  }
  assert.ok(new Set(ports).size >= 18, `mostly distinct: ${ports.join(', ')}`);
});

test('freePort skips a port that is in use', async () => {
  const held = createServer();
  const port = await freePort();
  await new Promise<void>((resolve) => held.listen(port, '127.0.0.1', () => resolve()));
  try {
    for (let i = 0; i < 50; i++) assert.notEqual(await freePort(), port);
  } finally {
    await new Promise<void>((resolve) => held.close(() => resolve()));
  }
});
