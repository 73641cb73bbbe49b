/**
 * Helpers of the dashboard's browser test: Debian's Chromium driven headless by puppeteer-core
 * (never a downloaded browser), its profile in a temporary directory removed on close, and a
 * recorder in the page of every change of the rollout panel (time and data attributes), to compare
 * with the times the store changed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type HTTPResponse, type Page } from 'puppeteer-core';

/** CHROMIUM is Debian's Chromium (scripts/bootstrap.sh installs it). */
export const CHROMIUM = '/usr/bin/chromium';

/** SCREENSHOT_DIR is where the test writes its screenshots (outside the repository). */
export const SCREENSHOT_DIR = process.env.GITCELL_SCREENSHOT_DIR ?? join(tmpdir(), 'gitcell-dashboard-screenshots');

/** Chromium is a running browser and how to stop it (closing it removes its profile directory). */
export interface Chromium {
  browser: Browser;
  close(): Promise<void>;
}

/** launchChromium starts headless Chromium; as root it needs --no-sandbox (its sandbox refuses root). */
export async function launchChromium(): Promise<Chromium> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/bootstrap.sh (Debian package chromium)`);
  const profile = await mkdtemp(join(tmpdir(), 'gitcell-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', `--user-data-dir=${profile}`, '--no-first-run', '--disable-extensions'],
    protocolTimeout: 120_000,
  });
  return {
    browser,
    close: async () => {
      await browser.close().catch(() => browser.process()?.kill('SIGKILL'));
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** NAVIGATION_TRIES bounds openUrl's tries. */
const NAVIGATION_TRIES = 5;

/**
 * openUrl opens url in page. Chromium fails a navigation in flight with ERR_NETWORK_CHANGED when any
 * interface on the machine changes (a container's veth: the cluster under test and the tests beside
 * it make them all the time); a user would load the page again, and so does this, a few times.
 */
export async function openUrl(page: Page, url: string): Promise<HTTPResponse | null> {
  for (let i = 1; ; i++) {
    try {
      return await page.goto(url, { waitUntil: 'domcontentloaded' });
    } catch (err) {
      if (i >= NAVIGATION_TRIES || !/ERR_NETWORK_CHANGED/.test((err as Error).message)) throw err;
    }
  }
}

/** failFirstLoad fails page's requests for a path ending in `suffix` as a network change would, until the page loads again. */
export async function failFirstLoad(page: Page, suffix: string): Promise<void> {
  let documents = 0;
  await page.setRequestInterception(true);
  page.on('request', (req) => {
    if (req.isInterceptResolutionHandled()) return;
    if (req.resourceType() === 'document') documents++;
    if (documents <= 1 && new URL(req.url()).pathname.endsWith(suffix)) void req.abort('internetdisconnected');
    else void req.continue();
  });
}

/** screenshot writes `<name>.png` of the page into SCREENSHOT_DIR and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** RolloutShown is one state of the rollout panel, with when the page showed it. */
export interface RolloutShown {
  at: number;
  revision: string;
  phase: string;
  updated: string;
  ready: string;
  newReady: string;
  old: string;
}

/**
 * RECORDER runs in the page (a string: this project compiles without the DOM library): a
 * MutationObserver logs every state of the rollout panel into window.__rollouts, and marks the
 * document so that a reload would show.
 */
const RECORDER = `(() => {
  window.__rollouts = [];
  window.__marker = 1;
  let last = '';
  const look = () => {
    const el = document.querySelector('[data-rollout-phase]');
    if (!el) return;
    const d = el.dataset;
    const s = { revision: d.rolloutRevision, phase: d.rolloutPhase, updated: d.updated, ready: d.ready, newReady: d.newReady, old: d.old };
    const key = JSON.stringify(s);
    if (key !== last) { last = key; window.__rollouts.push({ at: Date.now(), ...s }); }
  };
  new MutationObserver(look).observe(document.body, { subtree: true, childList: true, attributes: true });
  look();
})()`;

/** recordRollout installs RECORDER in the page. */
export async function recordRollout(page: Page): Promise<void> {
  await page.evaluate(RECORDER);
}

/** shownRollouts reads what the recorder saw; `reloaded` is true if the page was loaded again meanwhile. */
export async function shownRollouts(page: Page): Promise<{ shown: RolloutShown[]; reloaded: boolean }> {
  return page.evaluate('({ shown: window.__rollouts ?? [], reloaded: window.__marker !== 1 })') as Promise<{ shown: RolloutShown[]; reloaded: boolean }>;
}

/** gone is a page expression true once nothing matches `selector`. */
export const gone = (selector: string): string => `!document.querySelector(${JSON.stringify(selector)})`;

/** attr reads attribute `name` of every element matching `selector`. */
export async function attrs(page: Page, selector: string, name: string): Promise<(string | null)[]> {
  return page.$$eval(selector, (els, n) => els.map((e) => e.getAttribute(n)), name);
}
