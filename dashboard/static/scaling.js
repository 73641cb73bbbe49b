// The job page's SLO and autoscaler panels: each SLO with its burn rate per window (Prometheus; "no
// data" without it), and the autoscaler's live count against Git's replicas with its last decisions.
import { useJson, useTick } from './live.js';
import { html, age } from './ui.js';

const pct = (x) => `${(100 * x).toPrecision(3)}%`;

/** burnClass: at or above the paging rate is bad, above 1 (the budget runs out before the window ends) a warning. */
const burnClass = (b, pageAt) => (b >= pageAt ? 'bad' : b > 1 ? 'warn' : 'ok');

function Slo({ slo }) {
  return html`<div class="panel" data-slo=${slo.name} data-burn=${slo.burn.length ? 'data' : 'none'}>
    <strong>${slo.name}</strong> · ${slo.objective}% over ${slo.window} (${slo.indicator}) · error budget ${pct(slo.budget)}
    ${slo.burn.length ? html`<table><thead><tr><th scope="col">Window</th><th scope="col">Error ratio</th><th scope="col">Burn rate</th></tr></thead>
      <tbody>${slo.burn.map((b) => html`<tr data-window=${b.window}><td>${b.window}</td><td>${pct(b.errorRatio)}</td>
        <td class=${burnClass(b.burnRate, slo.pageAt)}>${b.burnRate.toFixed(2)}×</td></tr>`)}</tbody></table>
      <p class="muted">1× spends the budget in exactly ${slo.window}; ${slo.pageAt}× over the fast windows pages.</p>`
      : html`<p class="muted" data-slo-note>burn rate: ${slo.note ?? 'no data'}</p>`}
  </div>`;
}

/** Slos lists a job's SLOs, asked again every 15 s. */
export function Slos({ job }) {
  const page = useJson(`/api/slos/${encodeURIComponent(job.namespace)}/${encodeURIComponent(job.name)}`, useTick(15_000));
  if (!page) return html`<p class="muted">loading SLOs…</p>`;
  if (page.error) return html`<p class="bad">${page.error}</p>`;
  if (!page.slos?.length) return html`<p class="muted" data-slos="0">no SLO targets this job</p>`;
  return html`<div data-slos=${page.slos.length}>${page.slos.map((s) => html`<${Slo} key=${s.name} slo=${s} />`)}</div>`;
}

/** Autoscale is the autoscaler's side of a job (live, from the autoscale bucket). */
export function Autoscale({ a }) {
  if (!a) return html`<p class="muted" data-autoscale="none">not autoscaled: Git's replicas are the count</p>`;
  return html`<div class="panel" data-autoscale=${a.live} data-git-replicas=${a.git}>
    <p>live count <strong>${a.live}</strong> (bounds ${a.min}–${a.max}, from the autoscale bucket${a.stored === undefined ? ': no decision yet, starting from Git' : ''}) · Git's replicas ${a.git}, not used while autoscaled</p>
    ${a.decisions.length ? html`<table data-decisions=${a.decisions.length}><thead><tr><th scope="col">When</th><th scope="col">Scale</th><th scope="col">Reason</th><th scope="col">Proposed / stabilized</th><th scope="col">Inputs</th></tr></thead>
      <tbody>${a.decisions.map((d) => html`<tr data-decision=${d.reason}><td>${age(d.at)} ago</td><td>${d.current} → ${d.desired}</td>
        <td title=${d.message}>${d.reason}</td><td>${d.proposal} / ${d.stabilized}</td><td>${d.inputs}</td></tr>`)}</tbody></table>`
      : html`<p class="muted">no decision yet</p>`}
  </div>`;
}
