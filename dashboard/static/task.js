// Task page: state, placement (or the scheduler's reasons it waits), probes, events, live log tail.
import { useEffect, useRef, useState } from '/vendor/hooks.mjs';
import { useLive, useJson } from './live.js';
import { html, jobPath, nodePath, stateClass, NotFound, mib, age } from './ui.js';

/** Reasons is the per-filter explanation of `schedule --dry-run`. */
export function Reasons({ u }) {
  return html`<div data-unplaced=${u.taskId}><p class="warn">${u.message}</p>
    <table><thead><tr><th scope="col">Filter</th><th scope="col">Reason</th><th scope="col">Nodes</th></tr></thead>
    <tbody>${u.reasons.map((r) => html`<tr data-reason=${r.reason}><td>${r.filter}</td><td>${r.reason}</td><td>${r.nodes}/${u.nodesTotal}</td></tr>`)}</tbody></table></div>`;
}

function Probes({ probes }) {
  const list = Object.entries(probes ?? {}).filter(([, p]) => p);
  if (!list.length) return html`<p class="muted">no probes</p>`;
  return html`<ul>${list.map(([kind, p]) => html`<li><strong>${kind}</strong>: ${JSON.stringify(p)}</li>`)}</ul>`;
}

function Log({ id, node }) {
  const [text, setText] = useState('');
  const [note, setNote] = useState('connecting to the agent…');
  const pre = useRef(null);
  useEffect(() => {
    if (!node) return undefined;
    setText('');
    const es = new EventSource(`/api/tasks/${encodeURIComponent(id)}/log`);
    es.addEventListener('log', (e) => { setNote('following'); setText((t) => (t + JSON.parse(e.data)).slice(-200_000)); });
    es.addEventListener('end', () => { setNote('the log ended'); es.close(); });
    es.addEventListener('failed', (e) => { setNote(`no log: ${JSON.parse(e.data)}`); es.close(); });
    es.onerror = () => setNote('log stream interrupted: retrying…');
    // closed on pagehide too (see live.js: a cached page must not hold a connection)
    const close = () => es.close();
    addEventListener('pagehide', close);
    return () => { removeEventListener('pagehide', close); close(); };
  }, [id, node]);
  useEffect(() => { if (pre.current) pre.current.scrollTop = pre.current.scrollHeight; }, [text]);
  if (!node) return html`<p class="muted">not on a node yet: no log</p>`;
  return html`<div><p class="muted" aria-live="polite">${note}</p><pre class="log" ref=${pre} tabindex="0" aria-label="Log">${text}</pre></div>`;
}

export function TaskPage({ id }) {
  const s = useLive();
  const t = s.tasks.get(id);
  const page = useJson(`/api/tasks/${encodeURIComponent(id)}`, t ? `${t.state}${t.node}${t.ready}${t.restarts}` : 'none');
  if (!page) return html`<p class="loading">Loading…</p>`;
  if (page.notFound && !t) return html`<${NotFound} what=${`No task ${id} in the cluster.`} />`;
  if (page.malformed && !t) {
    return html`<section data-page="task" data-malformed="true"><h1>Task ${id}</h1>
      <div class="panel malformed" role="alert">Malformed store record ${page.malformed.bucket}/${page.malformed.key} (revision ${page.malformed.revision}): ${page.malformed.reason}</div></section>`;
  }
  const row = t ?? page.task;
  const spec = page.spec;
  return html`<section data-page="task" data-task=${id}>
    <h1>Task ${id}</h1>
    <p>job <a href=${jobPath(row.job)}>${row.job}</a> · <span class=${stateClass(row.state)} data-state=${row.state}>${row.state}</span> · ${row.ready ? 'ready' : 'not ready'} · ${row.restarts} restarts
      ${row.ip ? ` · IP ${row.ip}` : ''} ${row.reason ? html` · <span class="warn">${row.reason}</span>` : null} ${row.message ? ` · ${row.message}` : ''}</p>
    <h2>Placement</h2>
    ${page.binding ? html`<p>bound to <a href=${nodePath(page.binding.node)}>${page.binding.node}</a> ${age(page.binding.boundAt)} ago (scheduler term ${page.binding.schedulerTerm})</p>`
      : page.unplaced ? html`<${Reasons} u=${page.unplaced} />` : html`<p class="muted">${spec?.nodeName ? `pinned to ${spec.nodeName}` : 'not placed yet'}</p>`}
    ${spec ? html`<h2>Template</h2><p>image ${spec.template.image} · requests ${spec.template.resources.requests.cpuMillis}m CPU, ${mib(spec.template.resources.requests.memoryBytes)} · priority ${spec.priority}</p>
      <h2>Probes</h2><${Probes} probes=${spec.template.probes} />` : null}
    <h2>Events</h2>
    ${page.events.length ? html`<ul>${page.events.map((e) => html`<li><span class=${e.type === 'Warning' ? 'warn' : 'muted'}>${e.type}</span> ${e.reason}: ${e.message} <span class="muted">(${age(e.time)} ago)</span></li>`)}</ul>` : html`<p class="muted">no events kept</p>`}
    <h2>Log</h2><${Log} id=${id} node=${row.node} />
  </section>`;
}
