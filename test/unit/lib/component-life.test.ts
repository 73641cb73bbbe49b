import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostedLife, componentLife, hostedLife, runInLife } from '../../../lib/component-life.ts';

test('a hosted component finds its own life through every async step; outside, none is hosted', async () => {
  const a = new HostedLife();
  const b = new HostedLife();
  const seen: Array<[string, boolean, boolean]> = [];
  const probe = async (name: string) => {
    await new Promise((r) => setTimeout(r, 5));
    await Promise.resolve();
    seen.push([name, componentLife() === a, componentLife() === b]);
  };
  await Promise.all([runInLife(a, () => probe('a')), runInLife(b, () => probe('b'))]);
  assert.deepEqual(seen.sort(), [['a', true, false], ['b', false, true]]);
  assert.equal(hostedLife(), undefined);
});

test('crash closes the tracked connections at once, then resolves stopping; stop only resolves it', async () => {
  const closed: string[] = [];
  const conn = (name: string) => ({ close: async () => void closed.push(name) });
  const life = new HostedLife();
  life.track(conn('nats'));
  life.track(conn('autoscaler'));
  let stopped = false;
  void life.stopping.then(() => (stopped = true));
  await life.crash();
  await Promise.resolve();
  assert.deepEqual(closed.sort(), ['autoscaler', 'nats']);
  assert.equal(life.crashed, true);
  assert.equal(stopped, true);
  // A connection opened after the crash (a start still in flight) is closed at once too.
  life.track(conn('late'));
  await new Promise((r) => setImmediate(r));
  assert.ok(closed.includes('late'));

  const calm = new HostedLife();
  calm.track(conn('kept'));
  calm.stop();
  await calm.stopping;
  assert.equal(calm.crashed, false);
  assert.ok(!closed.includes('kept'), 'a stop leaves closing to the component (it cleans up first)');
});

test('exit(code) of a hosted component records the code and crashes it (a process of its own would exit)', async () => {
  const life = new HostedLife();
  life.exit(75);
  await life.stopping;
  assert.equal(life.exitCode, 75);
  assert.equal(life.crashed, true);
});
