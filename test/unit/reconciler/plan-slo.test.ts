import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AnyObject, SLO } from '../../../api/index.ts';
import { computeRevisionPlan, nextDesiredRecord, renderPlan } from '../../../reconciler/index.ts';
import * as fx from '../../helpers/manifests.ts';

const at = '2026-01-01T00:00:00Z';
const records = (objects: AnyObject[]) => objects.map((o) => nextDesiredRecord(undefined, o, { type: 'git', revision: 'a'.repeat(40) }, at));
const plan = (objects: AnyObject[], current: AnyObject[]) => computeRevisionPlan({
  ref: { name: 'HEAD', commit: 'b'.repeat(40) }, base: { name: 'main', commit: 'a'.repeat(40) }, objects, problems: [], current: records(current), now: Date.parse(at),
});

test('plan shows each SLO whose rules change, with the compiled rules summed up; unchanged SLOs stay out', () => {
  const latency = fx.latencySLO();
  const errors = fx.fullSLO();
  const tighter: SLO = { ...errors, spec: { ...errors.spec, objective: 99.9 } };
  const gone: SLO = { ...errors, metadata: { name: 'old', namespace: 'default' } };
  const p = plan([latency, tighter], [errors, gone]);
  assert.deepEqual(p.slos.map((s) => [s.action, s.key]), [['delete', 'SLO/default/old'], ['update', 'SLO/default/web-errors'], ['create', 'SLO/default/web-latency']]);
  const upd = p.slos.find((s) => s.action === 'update')!;
  assert.match(upd.summary, /^Job web: 99\.9% good over 28d, bad = http_requests_total\{code=~"5\.\."\} \/ http_requests_total$/);
  // 28 days: the workbook's 1h and 5m scale to 56m and 5m (4.67 m floored at the 60 s minimum is above it: 280 s).
  assert.deepEqual(upd.rules[1], 'alert SLOBurnRateFast (page) when 56m and 280s > 14.4x budget (0.0144), or 336m and 28m > 6x budget (0.006), for 280s');
  assert.match(upd.rules[0]!, /^record gitcell_slo:error_ratio over /);
  assert.match(upd.rules[3]!, /^alert SLONoData when http_requests_total\{namespace="default",job="web"\} is absent, for 56m$/);
  assert.deepEqual(p.slos.find((s) => s.action === 'delete')!.rules, []);
  assert.deepEqual(plan([latency], [latency]).slos, [], 'an unchanged SLO is not listed');
  const text = renderPlan(p, 'text');
  assert.match(text, /^slo rules \(Prometheus\):\n {2}- SLO\/default\/old: [^\n]*: its rules and alerts are removed\n[\s\S]*^ {2}\+ SLO\/default\/web-latency: Job web: 99% good[^\n]*\n {6}record gitcell_slo:error_ratio/m);
  assert.match(renderPlan(p, 'markdown'), /<summary>SLO rules \(Prometheus\)<\/summary>[\s\S]*- update `SLO\/default\/web-errors`/);
  assert.equal((JSON.parse(renderPlan(p, 'json')) as { slos: unknown[] }).slos.length, 3);
});
