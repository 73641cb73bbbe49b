// Loads before the front-end's modules (a classic script: it runs even when a module fails). When a
// module of app.js's graph fails to load, the app never starts and the module script gets an error
// event (a failed module preload alone does not stop it: the import fetches again). Chromium aborts every request in flight with
// ERR_NETWORK_CHANGED when an interface changes on the machine, and on a gitcell node each
// container's veth does, in bursts. So the page loads again by itself, as a user would press reload:
// after a growing pause, once the file answers again, BOOT_TRIES times in a row at most (app.js
// clears the count once it runs). A file that answers with an HTTP error is not tried again.
(() => {
  const KEY = 'gitcell:boot-tries';
  const BOOT_TRIES = 8;
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  let handling = false;
  addEventListener('error', async (e) => {
    const el = e.target;
    if (handling || !(el instanceof HTMLScriptElement) || el.type !== 'module') return;
    handling = true;
    const url = el.src;
    const tries = Number(sessionStorage.getItem(KEY) ?? 0);
    if (tries >= BOOT_TRIES) return console.error(`gitcell dashboard: ${url} failed to load ${tries} times; reload the page`);
    sessionStorage.setItem(KEY, String(tries + 1));
    console.warn(`gitcell dashboard: ${url} failed to load; loading the page again`);
    await sleep(Math.min(250 * 2 ** tries, 5000));
    for (let i = 0; i < 20; i++) {
      const answer = await fetch(url, { cache: 'no-store' }).catch(() => undefined);
      if (answer && !answer.ok) return console.error(`gitcell dashboard: ${url}: ${answer.status}`);
      if (answer) break;
      await sleep(500);
    }
    location.reload();
  }, true);
})();
