// The browser's copy of the dashboard rows, fed by one EventSource on /api/stream: a snapshot,
// then changed rows and new events. Components read it through useLive(); a render happens at most
// once per animation frame however many batches arrive.
import { useEffect, useState } from '/vendor/hooks.mjs';

/** state is the live copy: rows by id per family, the recent events, the connection. */
export const state = {
  tasks: new Map(), nodes: new Map(), jobs: new Map(), sources: new Map(), malformed: new Map(),
  events: [], connected: false, synced: false, monitoring: null, version: 0,
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

/** connect opens the stream; EventSource reconnects by itself after a lost connection. */
export function connect() {
  const es = new EventSource('/api/stream');
  es.addEventListener('snapshot', (e) => {
    const s = JSON.parse(e.data);
    fill(state.tasks, s.tasks, (r) => r.id);
    fill(state.nodes, s.nodes, (r) => r.name);
    fill(state.jobs, s.jobs, (r) => `${r.kind}.${r.namespace}.${r.name}`);
    fill(state.sources, s.sources, (r) => r.name);
    fill(state.malformed, s.malformed, (r) => `${r.bucket}/${r.key}`);
    state.events = s.events;
    state.monitoring = s.monitoring;
    state.connected = true;
    state.synced = true;
    changed();
  });
  es.addEventListener('rows', (e) => {
    const batch = JSON.parse(e.data);
    for (const [family, rows] of Object.entries(batch)) {
      const map = state[family];
      if (!map) continue;
      for (const [id, row] of Object.entries(rows)) {
        if (row === null) map.delete(id);
        else map.set(id, row);
      }
    }
    state.lastBatchAt = Date.now();
    changed();
  });
  es.addEventListener('events', (e) => {
    state.events = [...state.events, ...JSON.parse(e.data)].slice(-1000);
    changed();
  });
  es.onopen = () => { state.connected = true; changed(); };
  es.onerror = () => { state.connected = false; changed(); };
  return es;
}

/** useLive re-renders the calling component on every change of the live copy. */
export function useLive() {
  const [, set] = useState(0);
  useEffect(() => {
    listeners.add(set);
    return () => listeners.delete(set);
  }, []);
  return state;
}

/** useJson fetches a page's JSON, again whenever `dep` changes; 404 gives {notFound: true}. */
export function useJson(url, dep) {
  const [data, setData] = useState(null);
  useEffect(() => {
    let live = true;
    fetch(url, { headers: { accept: 'application/json' } })
      .then(async (r) => (r.status === 404 ? { notFound: true, ...(await r.json()) } : r.ok ? r.json() : { error: `${r.status} ${(await r.json().catch(() => ({}))).message ?? ''}` }))
      .catch((err) => ({ error: String(err) }))
      .then((d) => { if (live) setData(d); });
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
