// Overview: the Git source, nodes as capacity bars, jobs with health, firing alerts, malformed records.
import { useLive, useJson, useTick } from './live.js';
import { html, Bar, Conditions, commitPath, jobPath, nodePath, short, stateClass, mib, age } from './ui.js';

function Source({ src }) {
  const st = src.status;
  return html`<div class="panel" data-source=${src.name}>
    <strong>Git source ${src.name}</strong>
    <div>applied <a href=${commitPath(st.lastAppliedRevision ?? '')} data-applied=${st.lastAppliedRevision ?? ''}>${short(st.lastAppliedRevision) || 'nothing yet'}</a>
      ${st.lastAttemptedRevision && st.lastAttemptedRevision !== st.lastAppliedRevision ? html` · attempted <a href=${commitPath(st.lastAttemptedRevision)}>${short(st.lastAttemptedRevision)}</a>` : null}
      ${src.commit ? html` · ${src.commit.subject} <span class="muted">(${src.commit.author}, ${age(src.commit.time)} ago)</span>` : null}</div>
    <${Conditions} conditions=${st.conditions} />
  </div>`;
}

function Node({ n }) {
  return html`<div class="panel" data-node=${n.name}>
    <a href=${nodePath(n.name)}><strong>${n.name}</strong></a>
    <span class=${n.ready ? 'ok' : 'bad'}> ${n.ready ? 'Ready' : 'NotReady'}</span>
    ${n.scheduling !== 'enabled' ? html` <span class="warn">${n.scheduling}</span>` : null}
    <span class="muted"> · ${n.tasks}${n.maxTasks ? `/${n.maxTasks}` : ''} tasks</span>
    <${Bar} label="CPU" requested=${n.cpu.requested} used=${n.cpu.used} allocatable=${n.cpu.allocatable} fmt=${(v) => `${v}m`} />
    <${Bar} label="Memory" requested=${n.memory.requested} used=${n.memory.used} allocatable=${n.memory.allocatable} fmt=${mib} />
  </div>`;
}

/** Alerts are what `gitcell get alerts` lists: firing, pending, silenced (by Alertmanager). */
function Alerts({ monitoring }) {
  const data = useJson('/api/alerts', useTick(15_000));
  if (!monitoring) return html`<p class="muted" data-alerts="unconfigured">monitoring not configured: start the dashboard with --prometheus URL (gitcell up does)</p>`;
  if (!data) return html`<p class="muted">loading alerts…</p>`;
  if (data.error) return html`<p class="bad">${data.error}</p>`;
  const degraded = data.degraded?.length ? html`<p class="warn" data-degraded>monitoring degraded: ${data.degraded.join('; ')}</p>` : null;
  if (!data.alerts?.length) return html`${degraded}<p class="ok" data-alerts="0">no alert firing</p>`;
  const firing = data.alerts.filter((a) => a.state === 'firing').length;
  return html`${degraded}<table data-alerts=${data.alerts.length} data-firing=${firing}><thead><tr><th scope="col">State</th><th scope="col">Alert</th><th scope="col">Severity</th><th scope="col">Object</th><th scope="col">Summary</th><th scope="col">Since</th></tr></thead>
    <tbody>${data.alerts.map((a) => html`<tr data-alert=${a.name} data-alert-state=${a.state}>
      <td class=${a.state === 'firing' ? 'bad' : 'warn'}>${a.state}</td><td>${a.name}</td><td>${a.labels.severity ?? '-'}</td>
      <td>${a.labels.job ? html`<a href=${jobPath(`Job/${a.labels.namespace ?? 'default'}/${a.labels.job}`)}>${a.labels.namespace ?? 'default'}/${a.labels.job}</a>` : '-'}${a.labels.slo ? ` SLO ${a.labels.slo}` : ''}</td>
      <td>${a.summary}</td><td>${a.since ? `${age(a.since)} ago` : '-'}</td></tr>`)}</tbody></table>`;
}

export function Overview() {
  const s = useLive();
  const jobs = [...s.jobs.values()].sort((a, b) => a.key.localeCompare(b.key));
  const nodes = [...s.nodes.values()].sort((a, b) => a.name.localeCompare(b.name));
  return html`<section data-page="overview">
    <h1>Cluster</h1>
    ${[...s.sources.values()].map((src) => html`<${Source} src=${src} />`)}
    ${s.malformed.size ? html`<div class="panel malformed" role="alert" data-malformed=${s.malformed.size}><strong>Malformed store records</strong> (shown as such, skipped by every component):
      <ul>${[...s.malformed.values()].map((m) => html`<li>${m.bucket}/${m.key} revision ${m.revision}: ${m.reason}</li>`)}</ul></div>` : null}
    <h2>Nodes (${nodes.length})</h2>
    <div class="grid">${nodes.map((n) => html`<${Node} key=${n.name} n=${n} />`)}</div>
    <h2>Jobs (${jobs.length})</h2>
    <table><thead><tr><th scope="col">Job</th><th scope="col">Kind</th><th scope="col">Ready</th><th scope="col">Status</th><th scope="col">Reason</th><th scope="col">Revision</th></tr></thead>
      <tbody>${jobs.map((j) => html`<tr key=${j.key} data-job=${j.key}>
        <td><a href=${jobPath(j.key)}>${j.namespace}/${j.name}</a></td><td>${j.kind}${j.type ? ` (${j.type})` : ''}</td><td>${j.ready}</td>
        <td class=${stateClass(j.status)}>${j.status}</td><td>${j.reason}</td><td><a href=${commitPath(j.revision)}>${short(j.revision)}</a></td></tr>`)}</tbody></table>
    <h2>Alerts</h2>
    <${Alerts} monitoring=${s.monitoring} />
  </section>`;
}
