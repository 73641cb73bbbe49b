#!/usr/bin/env node
// Pull-request review for a gitcell repository: runs `gitcell validate` and `gitcell plan --format
// markdown` on the pull request's head against its base, and keeps ONE comment on the pull request
// up to date (found again by a hidden marker), like Atlantis or terraform-pr-commenter.
//
//   node deploy/ci/pr-comment.mjs --base origin/main [--ref HEAD] [--repo .] [--path DIR]
//        [--provider github|gitlab|print] [--marker NAME]
//
//   --provider github  GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_API_URL, the PR number from
//                      GITHUB_EVENT_PATH (pull_request events) or --pr N
//   --provider gitlab  GITLAB_TOKEN (a token allowed to write notes), CI_API_V4_URL, CI_PROJECT_ID,
//                      CI_MERGE_REQUEST_IID (merge request pipelines) or --pr N
//   --provider print   print the comment body on stdout and post nothing (what the test uses)
//
// GITCELL names the gitcell command (default "gitcell"; e.g. "npx gitcell" or "node cli/bin.js").
// Exit status: 1 when validate found problems or plan failed (after the comment is posted), else 0.
// Plain JavaScript on Node.js 20 (built-in fetch), no dependencies: CI runs it from a checkout.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** MAX_BODY stays under GitHub's 65,536-character comment limit (GitLab allows 1,000,000). */
export const MAX_BODY = 60_000;

/** markerOf is the hidden HTML comment that finds this tool's comment again. */
export function markerOf(name = 'gitcell-plan') {
  return `<!-- ${name} -->`;
}

/**
 * buildBody renders the comment: marker, a heading naming head and base, the validate verdict (its
 * problems folded), the plan's markdown (or its error), cut to MAX_BODY with a note.
 * @param {{ marker: string, ref: string, base: string, commit: string, validate: { code: number, output: string }, plan: { code: number, output: string } }} r
 */
export function buildBody(r) {
  const lines = [r.marker, `### gitcell plan: \`${r.ref}\` against \`${r.base}\``, ''];
  // validate prints FILE:LINE:COL: ... per problem, then a summary line.
  const all = r.validate.output.split('\n').filter((l) => l.trim() !== '');
  const problems = all.filter((l) => /^[^\s:]+:\d+:\d+: /.test(l));
  if (r.validate.code === 0) lines.push('**validate**: no problems');
  else if (problems.length === 0) lines.push('**validate failed**:', '', '```', ...all, '```');
  else lines.push(`**validate**: ${problems.length} problem${problems.length === 1 ? '' : 's'}`, '', '```', ...problems, '```');
  lines.push('');
  // plan --format markdown explains an invalid revision in markdown too (exit 1); anything else is an error.
  const markdown = r.plan.output.trimStart().startsWith('#');
  if (r.plan.code === 0 || r.plan.code === 2 || markdown) lines.push(r.plan.output.trim() || '_No changes._');
  else lines.push('**plan failed**:', '', '```', r.plan.output.trim(), '```');
  lines.push('', `<sub>commit ${r.commit.slice(0, 12)} · updated by gitcell's pr-comment</sub>`);
  let body = lines.join('\n') + '\n';
  if (body.length > MAX_BODY) body = `${body.slice(0, MAX_BODY)}\n\n_… cut at ${MAX_BODY} characters; run \`gitcell plan --base ${r.base}\` for the whole plan._\n`;
  return body;
}

/**
 * commentAction decides what to do with the existing comments: update the first one carrying the
 * marker (its id), else create one.
 * @param {{ id: number | string, body?: string }[]} comments
 * @param {string} marker
 * @returns {{ action: 'create' } | { action: 'update', id: number | string }}
 */
export function commentAction(comments, marker) {
  const mine = comments.find((c) => typeof c.body === 'string' && c.body.includes(marker));
  return mine ? { action: 'update', id: mine.id } : { action: 'create' };
}

/** run executes a command line's words plus args; resolves with exit code and both outputs. */
function run(cmd, args, cwd) {
  const [bin, ...pre] = cmd.trim().split(/\s+/);
  return new Promise((done) => {
    execFile(bin, [...pre, ...args], { cwd, maxBuffer: 64 << 20, env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      done({ code, output: `${stdout}${code !== 0 && code !== 2 ? stderr : ''}` });
    });
  });
}

/** review runs validate and plan in `repo` and returns the comment body and whether CI should fail. */
export async function review(o) {
  const gitcell = o.gitcell ?? process.env.GITCELL ?? 'gitcell';
  const repo = resolve(o.repo ?? '.');
  const ref = o.ref ?? 'HEAD';
  // Relative to the repository, so problems name files as the pull request shows them.
  const validate = await run(gitcell, ['validate', o.path ?? '.', '--ref', ref], repo);
  const plan = await run(gitcell, ['plan', '--repo', repo, '--ref', ref, '--base', o.base, '--format', 'markdown', ...(o.path ? ['--path', o.path] : [])], repo);
  const commit = (await run('git', ['rev-parse', ref], repo)).output.trim();
  const body = buildBody({ marker: markerOf(o.marker), ref, base: o.base, commit, validate, plan });
  return { body, failed: validate.code !== 0 || (plan.code !== 0 && plan.code !== 2) };
}

async function api(url, token, init, auth) {
  const res = await fetch(url, { ...init, headers: { ...(init.headers ?? {}), ...auth(token), 'content-type': 'application/json', accept: 'application/json' } });
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${url}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
  return res.json();
}

/**
 * keepComment keeps the one marked comment of a review thread: it pages through the thread's
 * comments (at most 20 pages of 100), then updates the marked one or posts a new one.
 */
async function keepComment({ list, one, update, token, auth }, body, marker) {
  const comments = [];
  for (let page = 1; page <= 20; page++) {
    const batch = await api(`${list}?per_page=100&page=${page}`, token, {}, auth);
    comments.push(...batch);
    if (batch.length < 100) break;
  }
  const a = commentAction(comments, marker);
  if (a.action === 'update') return api(`${one}/${a.id}`, token, { method: update, body: JSON.stringify({ body }) }, auth);
  return api(list, token, { method: 'POST', body: JSON.stringify({ body }) }, auth);
}

/** github keeps the marked comment of a pull request (issue comments API). */
function github(body, marker, pr) {
  const base = process.env.GITHUB_API_URL ?? 'https://api.github.com';
  const repo = required('GITHUB_REPOSITORY');
  return keepComment({
    list: `${base}/repos/${repo}/issues/${pr}/comments`,
    one: `${base}/repos/${repo}/issues/comments`,
    update: 'PATCH',
    token: required('GITHUB_TOKEN'),
    auth: (t) => ({ authorization: `Bearer ${t}` }),
  }, body, marker);
}

/** gitlab keeps the marked note of a merge request (notes API). */
function gitlab(body, marker, mr) {
  const base = required('CI_API_V4_URL');
  const project = encodeURIComponent(required('CI_PROJECT_ID'));
  const notes = `${base}/projects/${project}/merge_requests/${mr}/notes`;
  return keepComment({ list: notes, one: notes, update: 'PUT', token: required('GITLAB_TOKEN'), auth: (t) => ({ 'private-token': t }) }, body, marker);
}

function required(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

/** prNumber finds the pull or merge request: --pr, else the provider's CI variables. */
function prNumber(provider, flag) {
  if (flag) return flag;
  if (provider === 'gitlab') return required('CI_MERGE_REQUEST_IID');
  const event = JSON.parse(readFileSync(required('GITHUB_EVENT_PATH'), 'utf8'));
  const n = event.pull_request?.number ?? event.number;
  if (!n) throw new Error('not a pull_request event: give --pr N');
  return String(n);
}

/** parseArgs reads --name value pairs (every flag takes a value). */
export function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i += 2) {
    const m = /^--([a-z]+)$/.exec(argv[i] ?? '');
    if (!m || argv[i + 1] === undefined) throw new Error(`usage: pr-comment.mjs --base REF [--ref REF] [--repo DIR] [--path DIR] [--provider github|gitlab|print] [--pr N] [--marker NAME] (at "${argv[i]}")`);
    o[m[1]] = argv[i + 1];
  }
  if (!o.base) throw new Error('--base REF is required (the branch the pull request merges into, e.g. origin/main)');
  if (o.provider && !['github', 'gitlab', 'print'].includes(o.provider)) throw new Error(`--provider ${o.provider}: expected github, gitlab or print`);
  return o;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const { body, failed } = await review(o);
  const provider = o.provider ?? 'print';
  if (provider === 'print') process.stdout.write(body);
  else {
    const pr = prNumber(provider, o.pr);
    await (provider === 'github' ? github : gitlab)(body, markerOf(o.marker), pr);
    process.stdout.write(`pr-comment: ${provider} #${pr} updated\n`);
  }
  process.exitCode = failed ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err) => {
    process.stderr.write(`pr-comment: ${err.message}\n`);
    process.exitCode = 1;
  });
}
