// Small shared pieces: links, state badges, capacity bars, the virtualized table.
import { h } from '/vendor/preact.mjs';
import { useState } from '/vendor/hooks.mjs';
import htm from '/vendor/htm.mjs';

/** html is htm bound to Preact: JSX-like templates without a build step. */
export const html = htm.bind(h);

/** jobPath is the deep link of a job key `Kind/ns/name` (both kinds live under /jobs). */
export const jobPath = (key) => { const [, ns, name] = key.split('/'); return `/jobs/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`; };
export const taskPath = (id) => `/tasks/${encodeURIComponent(id)}`;
export const nodePath = (n) => `/nodes/${encodeURIComponent(n)}`;
export const commitPath = (rev) => `/commits/${encodeURIComponent(rev)}`;
export const short = (rev) => (rev ?? '').slice(0, 12);

/** stateClass colours a task or job state for people who see colour; the word is always there too. */
export function stateClass(s) {
  if (['running', 'Complete', 'succeeded', 'True'].includes(s)) return 'ok';
  if (['failed', 'Failed', 'backoff', 'False', 'unknown'].includes(s)) return 'bad';
  return 'warn';
}

export const mib = (b) => `${Math.round(b / 1048576)}Mi`;
export const age = (iso) => {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (!Number.isFinite(s)) return '-';
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : s < 172800 ? `${Math.round(s / 3600)}h` : `${Math.round(s / 86400)}d`;
};

/** Bar is one capacity bar: requested and used against allocatable, with the numbers as text. */
export function Bar({ label, requested, used, allocatable, fmt }) {
  const pct = (v) => `${Math.min(100, allocatable ? (100 * v) / allocatable : 0).toFixed(1)}%`;
  const text = `${label}: ${fmt(requested)} requested, ${fmt(used)} used of ${fmt(allocatable)}`;
  return html`<div>
    <div class="muted">${text}</div>
    <div class="bar" role="meter" aria-label=${text} aria-valuemin="0" aria-valuemax=${allocatable} aria-valuenow=${requested}>
      <span class="req" style=${{ width: pct(requested) }}></span><span class="used" style=${{ width: pct(used) }}></span>
    </div>
  </div>`;
}

const ROW = 28;

/**
 * VTable renders only the rows in view (plus a margin): 10,000 tasks cost a few dozen DOM rows.
 * `cols` are [title, cell(row)]; the body scrolls with the keyboard (it takes focus). `total` (at
 * least rows.length) is the list's length while its tail is still coming: the scroll bar is the
 * whole list's from the first paint.
 */
export function VTable({ rows, cols, height = 420, label, rowKey, total = rows.length }) {
  const [top, setTop] = useState(0);
  const first = Math.max(0, Math.floor(top / ROW) - 10);
  const count = Math.ceil(height / ROW) + 20;
  const slice = rows.slice(first, first + count);
  const h = Math.min(height, (total + 1) * ROW + 4);
  const loading = total > rows.length;
  return html`<div class="vlist" style=${{ height: `${h}px` }} tabindex="0" role="region" aria-label=${`${label} (${total})`} aria-busy=${loading} onScroll=${(e) => setTop(e.currentTarget.scrollTop)} data-rows=${total} data-loaded=${rows.length}>
    <table>
      <thead><tr>${cols.map(([t]) => html`<th scope="col">${t}</th>`)}</tr></thead>
      <tbody>
        <tr style=${{ height: `${first * ROW}px` }} aria-hidden="true"></tr>
        ${slice.map((r) => html`<tr key=${rowKey(r)} data-key=${rowKey(r)}>${cols.map(([, cell]) => html`<td>${cell(r)}</td>`)}</tr>`)}
        ${loading && first + slice.length >= rows.length ? html`<tr><td colspan=${cols.length} class="muted">loading ${total - rows.length} more…</td></tr>` : null}
        <tr style=${{ height: `${Math.max(0, total - first - slice.length - (loading ? 1 : 0)) * ROW}px` }} aria-hidden="true"></tr>
      </tbody>
    </table>
  </div>`;
}

/** TaskTable is the virtualized task list every page shares. */
export function TaskTable({ tasks, label = 'Tasks', showJob = false, total }) {
  const cols = [
    ['Task', (t) => html`<a href=${taskPath(t.id)}>${t.id}</a>`],
    ...(showJob ? [['Job', (t) => html`<a href=${jobPath(t.job)}>${t.job}</a>`]] : []),
    ['Node', (t) => (t.node ? html`<a href=${nodePath(t.node)}>${t.node}</a>` : '-')],
    ['State', (t) => html`<span class=${stateClass(t.state)}>${t.state}</span>`],
    ['Ready', (t) => (t.ready ? 'yes' : 'no')],
    ['Restarts', (t) => t.restarts],
    ['IP', (t) => t.ip ?? '-'],
    ['Template', (t) => t.template.slice(0, 8)],
    ['Reason', (t) => (t.reason ? `${t.reason}${t.message ? `: ${t.message}` : ''}` : '-')],
  ];
  return html`<${VTable} rows=${tasks} cols=${cols} label=${label} rowKey=${(t) => t.id} total=${total ?? tasks.length} />`;
}

/** NotFound is the page of an unknown object or path. */
export function NotFound({ what }) {
  return html`<section data-page="not-found"><h1>Not found</h1><p>${what ?? 'There is no page at this address.'}</p><p><a href="/">Back to the overview</a></p></section>`;
}

/** conditionClass: Stalled=True is bad and Reconciling=True in progress (their False is fine); for the rest True is good. */
function conditionClass(c) {
  if (c.type === 'Stalled') return c.status === 'True' ? 'bad' : 'ok';
  if (c.type === 'Reconciling') return c.status === 'True' ? 'warn' : 'ok';
  return stateClass(c.status);
}

/** Conditions lists Kubernetes-style conditions. */
export function Conditions({ conditions }) {
  if (!conditions?.length) return html`<span class="muted">no conditions</span>`;
  return html`<ul>${conditions.map((c) => html`<li><span class=${conditionClass(c)}>${c.type}=${c.status}</span> ${c.reason}${c.message ? `: ${c.message}` : ''}</li>`)}</ul>`;
}
