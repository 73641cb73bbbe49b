// Job page: health, the rollout in progress step by step, tasks, rollout history with commits and
// reverts, CPU and memory from Prometheus, SLOs with their burn rates, the autoscaler's decisions.
import { useEffect, useRef } from '/vendor/hooks.mjs';
import { useLive, useJson, useTick, listLength } from './live.js';
import { Slos, Autoscale } from './scaling.js';
import { html, commitPath, short, stateClass, TaskTable, NotFound, Conditions, age } from './ui.js';

/** rolloutSteps turns a rollout's memory into the steps a person follows. */
function rolloutSteps(w) {
  const r = w.rollout;
  const failed = r.phase === 'Failed';
  const step = (label, done) => ({ label, cls: done ? 'done' : failed ? 'failed' : 'todo' });
  return [
    { label: `started for commit ${short(r.revision)} (template ${r.templateHash.slice(0, 8)}), ${age(r.startedAt)} ago`, cls: 'done' },
    step(`new tasks created: ${w.updated}/${w.desired}`, w.updated >= w.desired),
    step(`new tasks ready: ${r.bestNewReady}/${w.desired}`, r.bestNewReady >= w.desired),
    step(`old tasks left: ${r.fewestOld}`, r.fewestOld === 0),
    failed ? { label: `failed: ${r.failed?.reason ?? ''} ${r.failed?.message ?? ''}`, cls: 'failed' } : step('complete', r.phase === 'Complete'),
  ];
}

function Rollout({ w }) {
  if (!w?.rollout) return html`<p class="muted">no rollout recorded</p>`;
  const r = w.rollout;
  return html`<div class="panel" data-rollout-phase=${r.phase} data-rollout-revision=${r.revision} data-updated=${w.updated} data-ready=${w.ready} data-new-ready=${r.bestNewReady} data-old=${r.fewestOld}>
    <strong class=${stateClass(r.phase)}>${r.phase}</strong> · commit <a href=${commitPath(r.revision)}>${short(r.revision)}</a> · ${w.ready}/${w.desired} ready, ${w.updated} up to date
    <ol class="steps" aria-label="Rollout steps">${rolloutSteps(w).map((s) => html`<li class=${s.cls}>${s.label}</li>`)}</ol>
  </div>`;
}

function History({ history }) {
  if (!history?.length) return html`<p class="muted">no rollout in the events kept</p>`;
  return html`<table data-history=${history.length}><thead><tr><th scope="col">#</th><th scope="col">Commit</th><th scope="col">Subject</th><th scope="col">Author</th><th scope="col">Result</th><th scope="col">Started</th><th scope="col">Message</th></tr></thead>
    <tbody>${[...history].reverse().map((e) => html`<tr data-history-result=${e.result} data-history-commit=${e.commit}>
      <td>${e.revision}</td><td><a href=${commitPath(e.commit)}>${short(e.commit)}</a></td>
      <td>${e.subject ?? ''}${e.reverts ? html` (reverts <a href=${commitPath(e.reverts)}>${short(e.reverts)}</a>)` : null}</td>
      <td>${e.author ?? '-'}</td><td class=${stateClass(e.result)}>${e.result}</td><td>${age(e.startedAt)} ago</td><td>${e.message ?? ''}</td></tr>`)}</tbody></table>`;
}

function Chart({ title, series, fmt }) {
  const ref = useRef(null);
  useEffect(() => {
    if (!ref.current || !series.length) return undefined;
    let plot;
    let live = true;
    // The chart library loads only when there is something to chart: the first paint does not wait for it.
    import('/vendor/uPlot.esm.js').then(({ default: uPlot }) => {
      if (!live || !ref.current) return;
      const times = series[0].times;
      const data = [times, ...series.map((s) => times.map((t) => { const i = s.times.indexOf(t); return i < 0 ? null : s.values[i]; }))];
      plot = new uPlot({ title, width: 560, height: 200, series: [{}, ...series.map((s, i) => ({ label: s.task, stroke: `hsl(${(i * 67) % 360} 60% 35%)`, value: (_, v) => (v == null ? '-' : fmt(v)) }))], axes: [{}, { values: (_, vals) => vals.map(fmt) }] }, data, ref.current);
    });
    return () => { live = false; plot?.destroy(); };
  }, [series]);
  return series.length ? html`<div ref=${ref} role="img" aria-label=${title}></div>` : html`<p class="muted">${title}: no samples yet</p>`;
}

function Metrics({ job }) {
  const m = useJson(`/api/metrics/${job.kind}/${encodeURIComponent(job.namespace)}/${encodeURIComponent(job.name)}`, useTick(15_000));
  if (!m) return html`<p class="muted">loading metrics…</p>`;
  if (!m.configured) return html`<p class="muted" data-metrics="unconfigured">monitoring not configured: no Prometheus to chart CPU and memory</p>`;
  return html`<div data-metrics="configured">${m.error ? html`<p class="bad">${m.error}</p>` : null}
    <div class="grid"><${Chart} title="CPU (millicores)" series=${m.cpu} fmt=${(v) => `${Math.round(v)}m`} /><${Chart} title="Memory (MiB)" series=${m.memory} fmt=${(v) => `${Math.round(v / 1048576)}Mi`} /></div></div>`;
}

export function JobPage({ namespace, name }) {
  const s = useLive();
  const job = s.jobs.get(`Job.${namespace}.${name}`) ?? s.jobs.get(`DaemonSet.${namespace}.${name}`);
  // History comes from the events: fetch again when one about this job arrives.
  const mine = job ? s.events.filter((e) => e.object.kind === job.kind && e.object.namespace === namespace && e.object.name === name).length : 0;
  const page = useJson(`/api/jobs/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`, mine);
  if (!job) return page?.notFound || page ? html`<${NotFound} what=${`No Job or DaemonSet ${namespace}/${name} in the cluster.`} />` : html`<p class="loading">Loading…</p>`;
  const tasks = [...s.tasks.values()].filter((t) => t.job === job.key).sort((a, b) => a.index - b.index || a.id.localeCompare(b.id));
  const total = listLength(tasks.length, 'jobs', job.key);
  const w = job.workload;
  return html`<section data-page="job" data-job=${job.key}>
    <h1>${job.kind} ${namespace}/${name}</h1>
    <p><span class=${stateClass(job.status)} data-status=${job.status}>${job.status}</span> · ready ${job.ready} · ${job.reason !== '-' ? job.reason : 'no problem'} · generation ${job.generation} · changed by <a href=${commitPath(job.revision)}>${short(job.revision)}</a></p>
    ${w ? html`<${Conditions} conditions=${w.conditions} />` : null}
    <h2>Rollout</h2><${Rollout} w=${w} />
    <h2>Tasks (${total})</h2><${TaskTable} tasks=${tasks} total=${total} />
    <h2>Rollout history</h2>${page?.history ? html`<${History} history=${page.history} />` : html`<p class="muted">loading…</p>`}
    ${job.kind === 'Job' ? html`<h2>Autoscaler</h2><${Autoscale} a=${job.autoscale} />` : null}
    <h2>SLOs</h2><${Slos} job=${job} />
    <h2>CPU and memory</h2><${Metrics} job=${job} />
  </section>`;
}
