import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from 'js-yaml';
import { errorRatio, promDuration, sloRuleGroup, sloRulesFile, sloWindows, withMatchers } from '../../../reconciler/monitor/index.ts';
import * as fx from '../../helpers/manifests.ts';

test('burn-rate windows: the SRE workbook\'s for 30 days, scaled to the SLO\'s window, floored', () => {
  const spec = { job: 'web', objective: 99.9, indicator: { readiness: {} } };
  assert.deepEqual(sloWindows(spec), { page: [[3600, 300, 14.4], [21600, 1800, 6]], ticket: [[86400, 7200, 3], [259200, 21600, 1]] });
  assert.deepEqual(sloWindows({ ...spec, window: '3d' }, 60).page, [[360, 60, 14.4], [2160, 180, 6]], 'a tenth: 5m becomes 30s, floored at 60s');
  assert.equal(promDuration(5400), '90m');
  assert.equal(promDuration(86400 * 3), '3d');
  assert.equal(promDuration(45), '45s');
});

test('indicators: matchers of the SLO\'s namespace and job go first, the user\'s are kept', () => {
  assert.equal(withMatchers('http_requests_total{code=~"5.."}', 'job="web"'), 'http_requests_total{job="web",code=~"5.."}');
  assert.equal(withMatchers('up', 'job="web"'), 'up{job="web"}');
  const slo = fx.fullSLO();
  assert.equal(errorRatio(slo.spec, 'default', '1h'), 'sum(rate(http_requests_total{namespace="default",job="web",code=~"5.."}[1h])) / sum(rate(http_requests_total{namespace="default",job="web"}[1h]))');
  assert.equal(errorRatio(fx.latencySLO().spec, 'shop', '5m'), '1 - sum(rate(http_request_duration_seconds_bucket{namespace="shop",job="web",le="0.3"}[5m])) / sum(rate(http_request_duration_seconds_count{namespace="shop",job="web"}[5m]))');
});

test('one group per SLO: a recording rule per window, fast and slow burn alerts, and "no data"', () => {
  const g = sloRuleGroup(fx.fullSLO(), { minWindowSeconds: 60 });
  assert.equal(g.name, 'gitcell-slo/default/web-errors');
  const records = g.rules.filter((r) => r.record);
  assert.equal(records.length, 7, 'windows 5m 30m 1h 2h 6h 1d 3d scaled to 28d, deduplicated');
  const alerts = Object.fromEntries(g.rules.filter((r) => r.alert).map((r) => [r.alert as string, r]));
  assert.deepEqual(Object.keys(alerts), ['SLOBurnRateFast', 'SLOBurnRateSlow', 'SLONoData']);
  assert.deepEqual(alerts.SLOBurnRateFast!.labels, { team: 'web', slo: 'web-errors', namespace: 'default', job: 'web', severity: 'page' });
  assert.match(alerts.SLOBurnRateFast!.expr as string, /> 14\.4 \* 0\.005 and max without\(window\) \(gitcell_slo:error_ratio\{slo="web-errors",namespace="default",window="280s"\}\)/);
  assert.equal(alerts.SLONoData!.expr, 'absent(http_requests_total{namespace="default",job="web"})');
  const file = load(sloRulesFile([fx.latencySLO(), fx.fullSLO()])) as { groups: { name: string }[] };
  assert.deepEqual(file.groups.map((x) => x.name), ['gitcell-slo/default/web-errors', 'gitcell-slo/default/web-latency']);
});
