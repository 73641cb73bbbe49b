// The dashboard's front-end: a router over deep links, the layout (navigation, the lost-connection
// banner) and the pages. Preact + htm from /vendor: no build step.
import { render } from '/vendor/preact.mjs';
import { useEffect, useState } from '/vendor/hooks.mjs';
import { connect, useLive, taskCount } from './live.js';
import { html, NotFound } from './ui.js';
import { Overview } from './overview.js';
import { JobPage } from './job.js';
import { TaskPage } from './task.js';
import { NodePage, PendingPage, EventsPage, CommitPage } from './pages.js';

/** ROUTES match a path to a page (the server answers the same list, 404 for the rest). */
const ROUTES = [
  [/^\/$/, () => html`<${Overview} />`],
  [/^\/jobs\/([^/]+)\/([^/]+)$/, (ns, name) => html`<${JobPage} namespace=${ns} name=${name} />`],
  [/^\/tasks\/([^/]+)$/, (id) => html`<${TaskPage} id=${id} />`],
  [/^\/nodes\/([^/]+)$/, (name) => html`<${NodePage} name=${name} />`],
  [/^\/pending$/, () => html`<${PendingPage} />`],
  [/^\/commits\/([^/]+)$/, (rev) => html`<${CommitPage} rev=${rev} />`],
  [/^\/events$/, () => html`<${EventsPage} />`],
];

function route(path) {
  for (const [re, page] of ROUTES) {
    const m = re.exec(path);
    if (m) return page(...m.slice(1).map(decodeURIComponent));
  }
  return html`<${NotFound} />`;
}

function usePath() {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const onPop = () => setPath(location.pathname);
    // Same-origin links navigate without a reload: the live stream stays open.
    const onClick = (e) => {
      const a = e.target.closest?.('a[href]');
      if (!a || a.origin !== location.origin || e.ctrlKey || e.metaKey || e.shiftKey || a.target) return;
      e.preventDefault();
      if (a.pathname + a.search !== location.pathname + location.search) history.pushState(null, '', a.pathname + a.search);
      setPath(location.pathname);
      document.getElementById('main')?.focus();
    };
    addEventListener('popstate', onPop);
    document.addEventListener('click', onClick);
    return () => { removeEventListener('popstate', onPop); document.removeEventListener('click', onClick); };
  }, []);
  return path;
}

function App() {
  const s = useLive();
  const path = usePath();
  const nav = [['/', 'Overview'], ['/pending', 'Pending'], ['/events', 'Events']];
  return html`
    ${!s.connected && s.synced ? html`<div class="banner" role="alert" data-banner="disconnected">Connection to the dashboard server lost: reconnecting… (what you see may be out of date)</div>` : null}
    <header>
      <a href="/">gitcell</a>
      <nav aria-label="Main">${nav.map(([href, label]) => html`<a href=${href} aria-current=${path === href ? 'page' : undefined} style="margin-right:14px">${label}</a>`)}</nav>
      <span class="conn" aria-live="polite">${s.connected ? 'live' : 'offline'} · ${taskCount()} tasks · ${s.nodes.size} nodes</span>
    </header>
    <main id="main" tabindex="-1">${s.synced ? route(path) : html`<p class="loading">Loading the cluster…</p>`}</main>`;
}

// The app runs: boot.js counts failed loads in a row from here.
sessionStorage.removeItem('gitcell:boot-tries');
connect();
const root = document.getElementById('app');
root.textContent = ''; // the static "Loading…" line: Preact renders beside what it did not make
render(html`<${App} />`, root);
