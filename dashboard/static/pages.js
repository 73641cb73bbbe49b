// Node, Pending, Events and Commit pages.
import { useState } from '/vendor/hooks.mjs';
import { useLive, useJson, listLength } from './live.js';
import { html, Bar, TaskTable, VTable, NotFound, commitPath, jobPath, taskPath, short, stateClass, mib, age } from './ui.js';
import { Reasons } from './task.js';

export function NodePage({ name }) {
  const s = useLive();
  const n = s.nodes.get(name);
  if (!n) return html`<${NotFound} what=${`No node ${name} in the cluster.`} />`;
  const tasks = [...s.tasks.values()].filter((t) => t.node === name).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const total = listLength(tasks.length, 'nodes', name);
  return html`<section data-page="node" data-node=${name}>
    <h1>Node ${name}</h1>
    <p><span class=${n.ready ? 'ok' : 'bad'}>${n.ready ? 'Ready' : 'NotReady'}</span> · ${n.scheduling} · heartbeat ${age(n.heartbeatAt)} ago · ${n.addresses.join(', ')}</p>
    <${Bar} label="CPU" requested=${n.cpu.requested} used=${n.cpu.used} allocatable=${n.cpu.allocatable} fmt=${(v) => `${v}m`} />
    <${Bar} label="Memory" requested=${n.memory.requested} used=${n.memory.used} allocatable=${n.memory.allocatable} fmt=${mib} />
    <p class="muted">labels: ${Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(', ')}</p>
    <h2>Tasks (${total})</h2><${TaskTable} tasks=${tasks} showJob=${true} total=${total} />
  </section>`;
}

export function PendingPage() {
  const s = useLive();
  // Ask again when the set of unbound tasks or the nodes change.
  const unbound = [...s.tasks.values()].filter((t) => t.state === 'unscheduled').map((t) => t.id).join(',');
  const nodes = [...s.nodes.values()].map((n) => `${n.name}${n.ready}${n.cpu.requested}${n.memory.requested}`).join(',');
  const page = useJson('/api/pending', `${unbound}|${nodes}`);
  if (!page) return html`<p class="loading">Loading…</p>`;
  return html`<section data-page="pending">
    <h1>Pending tasks (${page.pending.length})</h1>
    <p class="muted">What the scheduler's own core answers now on ${page.nodes} nodes (as <code>gitcell schedule --dry-run</code>)${page.placeable ? `; ${page.placeable} more unbound task(s) fit and are about to be placed` : ''}.</p>
    ${page.pending.length ? page.pending.map((u) => html`<div class="panel" key=${u.taskId} data-unplaced-job=${u.jobKey}>
      <a href=${taskPath(u.taskId)}><strong>${u.taskId}</strong></a> of <a href=${jobPath(u.jobKey)}>${u.jobKey}</a> · priority ${u.priority}
      <${Reasons} u=${u} /></div>`) : html`<p class="ok">every task has a place</p>`}
  </section>`;
}

export function EventsPage() {
  const s = useLive();
  const q = new URLSearchParams(location.search);
  const [f, setF] = useState({ kind: q.get('kind') ?? '', name: q.get('name') ?? '', type: q.get('type') ?? '' });
  const kinds = [...new Set(s.events.map((e) => e.object.kind))].sort();
  const set = (k) => (e) => {
    const next = { ...f, [k]: e.currentTarget.value };
    setF(next);
    history.replaceState(null, '', `/events?${new URLSearchParams(Object.entries(next).filter(([, v]) => v))}`);
  };
  const rows = s.events.filter((e) => (!f.kind || e.object.kind === f.kind) && (!f.type || e.type === f.type) && (!f.name || e.object.name.includes(f.name))).reverse();
  const objPath = (o) => (o.kind === 'Task' ? taskPath(o.name) : ['Job', 'DaemonSet'].includes(o.kind) ? jobPath(`${o.kind}/${o.namespace ?? 'default'}/${o.name}`) : null);
  const cols = [
    ['Time', (e) => html`<time datetime=${e.time}>${age(e.time)} ago</time>`],
    ['Type', (e) => html`<span class=${e.type === 'Warning' ? 'warn' : 'muted'}>${e.type}</span>`],
    ['Reason', (e) => e.reason],
    ['Object', (e) => { const p = objPath(e.object); const t = `${e.object.kind}/${e.object.namespace ? `${e.object.namespace}/` : ''}${e.object.name}`; return p ? html`<a href=${p}>${t}</a>` : t; }],
    ['Message', (e) => html`<span title=${e.message}>${e.message}</span>`],
  ];
  return html`<section data-page="events">
    <h1>Events</h1>
    <div class="filters" role="search">
      <label>Kind <select value=${f.kind} onChange=${set('kind')}><option value="">any</option>${kinds.map((k) => html`<option>${k}</option>`)}</select></label>
      <label>Name <input value=${f.name} onInput=${set('name')} placeholder="part of a name" /></label>
      <label>Type <select value=${f.type} onChange=${set('type')}><option value="">any</option><option>Normal</option><option>Warning</option></select></label>
    </div>
    <${VTable} rows=${rows} cols=${cols} height=${600} label="Events" rowKey=${(e) => `${e.time}${e.reason}${e.object.name}${e.message}`} />
  </section>`;
}

export function CommitPage({ rev }) {
  const s = useLive();
  const page = useJson(`/api/commits/${encodeURIComponent(rev)}`, s.sources.size);
  if (!page) return html`<p class="loading">Loading…</p>`;
  if (page.notFound) return html`<${NotFound} what=${page.message ?? `No commit ${rev}.`} />`;
  if (page.error) return html`<p class="bad">${page.error}</p>`;
  return html`<section data-page="commit" data-commit=${page.commit}>
    <h1>Commit ${short(page.commit)}</h1>
    ${page.info ? html`<p><strong>${page.info.subject}</strong> · ${page.info.author} · ${age(page.info.time)} ago</p>` : null}
    ${page.reconciles?.length ? html`<p>${page.reconciles.map((h) => html`<span class=${stateClass(h.result === 'Applied' || h.result === 'Unchanged' ? 'Complete' : 'Failed')}>${h.result}</span> ${h.message} `)}</p>` : null}
    ${page.jobs?.length ? html`<h2>Jobs it changed</h2><ul>${page.jobs.map((j) => html`<li><a href=${jobPath(j.key)}>${j.key}</a> ${j.status}</li>`)}</ul>` : null}
    <h2>Plan</h2>
    ${page.plan ? html`<pre class="log" tabindex="0" aria-label="Plan" data-plan="true">${page.plan}</pre>` : html`<p class="muted">${page.planNote ?? 'no plan'}</p>`}
  </section>`;
}
