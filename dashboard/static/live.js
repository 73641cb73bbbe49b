// The browser's copy of the dashboard rows, fed by one EventSource on /api/stream: a snapshot
// (every small row and the tasks of the page in view), then changed rows, new events and the other
// tasks in chunks (dashboard/stream.ts). Components read it through useLive(); a render happens at most
// once per animation frame however many batches arrive.
import { useEffect, useState } from '/vendor/hooks.mjs';

/** state is the live copy: rows by id per family, the recent events, the connection. */
export const state = {
  tasks: new Map(), nodes: new Map(), jobs: new Map(), sources: new Map(), malformed: new Map(),
  events: [], connected: false, synced: false, monitoring: null, version: 0,
  // Until tasksDone the task Map holds part of the tasks: lists take their length from taskCounts.
  tasksDone: false, taskTotal: 0, taskCounts: { jobs: {}, nodes: {} },
};
const listeners = new Set();
let scheduled = false;

function changed() {
  state.version++;
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    for (const l of listeners) l(state.version);
  });
}

function fill(map, rows, key) {
  map.clear();
  for (const r of rows) map.set(key(r), r);
}

/** applySnapshot replaces the live copy with a stream's first message. */
function applySnapshot(s) {
  fill(state.tasks, s.tasks, (r) => r.id);
  fill(state.nodes, s.nodes, (r) => r.name);
  fill(state.jobs, s.jobs, (r) => `${r.kind}.${r.namespace}.${r.name}`);
  fill(state.sources, s.sources, (r) => r.name);
  fill(state.malformed, s.malformed, (r) => `${r.bucket}/${r.key}`);
  state.events = s.events;
  state.tasksDone = s.tasksDone;
  state.taskTotal = s.taskTotal;
  state.taskCounts = s.taskCounts;
  state.monitoring = s.monitoring;
  state.connected = true;
  state.synced = true;
}

function applyRows(batch) {
  for (const [family, rows] of Object.entries(batch)) {
    const map = state[family];
    if (!map) continue;
    for (const [id, row] of Object.entries(rows)) {
      if (row === null) map.delete(id);
      else map.set(id, row);
    }
  }
  state.lastBatchAt = Date.now();
}

function applyTasks(chunk) {
  for (const r of chunk.rows) state.tasks.set(r.id, r);
  if (chunk.done) state.tasksDone = true;
}

/**
 * Stream messages are applied in the order they came. A chunk of the other tasks waits for the next
 * frame to be painted (so the page in view paints before them), one chunk a frame; whatever came
 * after a waiting chunk waits behind it, or an older row would overwrite a newer one.
 */
const waiting = [];
let pumping = false;

function deliver(apply, data, heavy = false) {
  if (!heavy && !waiting.length) {
    apply(JSON.parse(data));
    return changed();
  }
  waiting.push({ apply, data, heavy });
  if (pumping) return;
  pumping = true;
  requestAnimationFrame(() => setTimeout(pump, 0));
}

function pump() {
  pumping = false;
  for (let first = true; waiting.length && (first || !waiting[0].heavy); first = false) {
    const m = waiting.shift();
    m.apply(JSON.parse(m.data));
  }
  changed();
  if (waiting.length && !pumping) {
    pumping = true;
    requestAnimationFrame(() => setTimeout(pump, 0));
  }
}

/** connect opens the stream; EventSource reconnects by itself after a lost connection. */
export function connect() {
  const es = new EventSource(`/api/stream?view=${encodeURIComponent(location.pathname)}`);
  es.addEventListener('snapshot', (e) => {
    // A new stream (after a reconnect) starts over: what the old one still had waiting is stale.
    waiting.length = 0;
    performance.mark('gitcell:snapshot-received');
    const s = JSON.parse(e.data);
    applySnapshot(s);
    changed();
    // The other tasks once this has painted (the server would send them in 3 s anyway).
    if (!s.tasksDone) requestAnimationFrame(() => setTimeout(() => fetch(`/api/stream/rest?id=${encodeURIComponent(s.streamId)}`).catch(() => undefined), 0));
  });
  es.addEventListener('rows', (e) => deliver(applyRows, e.data));
  es.addEventListener('tasks', (e) => deliver(applyTasks, e.data, true));
  es.addEventListener('events', (e) => deliver((events) => { state.events = [...state.events, ...events].slice(-1000); }, e.data));
  es.onopen = () => { state.connected = true; changed(); };
  es.onerror = () => { state.connected = false; changed(); };
  // A page kept in the back/forward cache would keep its stream open, and a browser opens at most 6
  // HTTP/1.1 connections to one host: a few such pages leave the next page's stream waiting. So the
  // stream closes when the page is hidden, and a page shown again from that cache starts over.
  addEventListener('pagehide', () => es.close());
  addEventListener('pageshow', (e) => { if (e.persisted) location.reload(); });
  return es;
}

/** listLength is how many rows a task list has: what is held, or while tasks still come, the server's count. */
export function listLength(held, family, key) {
  return state.tasksDone ? held : Math.max(held, state.taskCounts[family]?.[key] ?? 0);
}

/** taskCount is every task, held or still coming. */
export const taskCount = () => (state.tasksDone ? state.tasks.size : Math.max(state.tasks.size, state.taskTotal));

/** useLive re-renders the calling component on every change of the live copy. */
export function useLive() {
  const [, set] = useState(0);
  const rendered = state.version;
  useEffect(() => {
    listeners.add(set);
    // Effects run after the frame that painted: a change in between (a snapshot that came at once)
    // found no listener, and nothing else may follow it on a quiet cluster.
    if (state.version !== rendered) set(state.version);
    return () => listeners.delete(set);
  }, []);
  return state;
}

/** FETCH_TRIES bounds the tries of a page's JSON after network errors (not after an HTTP answer). */
const FETCH_TRIES = 4;

/** fetchJson gets url's JSON; a network error (a changed network aborts requests) is tried again while wanted(). */
async function fetchJson(url, wanted) {
  for (let i = 1; ; i++) {
    try {
      const r = await fetch(url, { headers: { accept: 'application/json' } });
      if (r.status === 404) return { notFound: true, ...(await r.json()) };
      return r.ok ? await r.json() : { error: `${r.status} ${(await r.json().catch(() => ({}))).message ?? ''}` };
    } catch (err) {
      if (i >= FETCH_TRIES || !wanted()) return { error: String(err) };
      await new Promise((resolve) => setTimeout(resolve, 250 * i));
    }
  }
}

/** useJson fetches a page's JSON, again whenever `dep` changes; 404 gives {notFound: true}. */
export function useJson(url, dep) {
  const [data, setData] = useState(null);
  useEffect(() => {
    let live = true;
    fetchJson(url, () => live).then((d) => { if (live) setData(d); });
    return () => { live = false; };
  }, [url, dep]);
  return data;
}

/** useTick changes every `ms` (for what the store does not push: Prometheus charts and alerts). */
export function useTick(ms) {
  const [n, setN] = useState(0);
  useEffect(() => {
    const t = setInterval(() => setN((x) => x + 1), ms);
    return () => clearInterval(t);
  }, [ms]);
  return n;
}
