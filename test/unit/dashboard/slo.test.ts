import { test } from 'node:test';
import assert from 'node:assert/strict';
import { burnReadings, durationSeconds } from '../../../dashboard/slo.ts';
import { autoscaleView } from '../../../dashboard/rows.ts';
import type { AutoscaleRecord } from '../../../api/index.ts';

test('durationSeconds reads the windows slo-rules.ts writes', () => {
  assert.deepEqual(['30s', '5m', '1h', '3d', '1w', ''].map(durationSeconds), [30, 300, 3600, 259200, Number.NaN, Number.NaN]);
});

test('burnReadings: error ratio over the budget, shortest window first; NaN (no traffic) is no reading', () => {
  const v = (window: string, x: string) => ({ metric: { slo: 's', window }, value: [0, x] as [number, string] });
  const r = burnReadings([v('1h', '0.072'), v('5m', '0.005'), v('6h', 'NaN')], 0.005);
  assert.deepEqual(r.map((x) => x.window), ['5m', '1h']);
  assert.equal(r[0]!.burnRate, 1);
  assert.ok(Math.abs(r[1]!.burnRate - 14.4) < 1e-9, String(r[1]!.burnRate));
  assert.deepEqual(burnReadings([], 0.005), []);
});

test('autoscaleView: the live count within Git bounds against Git replicas, decisions newest first with their inputs', () => {
  const spec = { type: 'service' as const, replicas: 2, autoscale: { minReplicas: 2, maxReplicas: 4, metrics: [] } } as never;
  assert.equal(autoscaleView({ type: 'service', replicas: 3 } as never, undefined), undefined, 'no block: nothing to show');
  assert.deepEqual(autoscaleView(spec, undefined), { min: 2, max: 4, git: 2, live: 2, decisions: [] }, 'before the first decision: from Git');
  const d = (at: string, current: number, desired: number, reason: string) => ({
    at, current, desired, proposal: desired, stabilized: desired, reason, message: `${reason} message`,
    metrics: [{ metric: 'cpu', current: 45.5, target: 20, proposal: desired, ready: current, missing: 0, unready: 0 }],
  });
  const rec: AutoscaleRecord = { namespace: 'default', name: 'web', replicas: 9, recommendations: [], scaleEvents: [], decisions: [d('2026-01-01T00:00:00Z', 2, 5, 'ScaleUp'), d('2026-01-01T00:01:00Z', 5, 5, 'Steady')], updatedAt: '2026-01-01T00:01:00Z' };
  const v = autoscaleView(spec, rec)!;
  assert.equal(v.live, 4, 'the stored 9 held within maxReplicas 4');
  assert.equal(v.stored, 9);
  assert.deepEqual(v.decisions.map((x) => x.reason), ['Steady', 'ScaleUp']);
  assert.match(v.decisions[1]!.inputs, /cpu 45\.5\/20 \(2 ready, 0 missing, 0 unready\) -> 5/);
});
