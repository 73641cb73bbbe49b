import type { FieldChange } from '../diff/index.ts';
import type { RevisionPlan } from './plan.ts';

/** PLAN_FORMATS are the output formats of `gitcell plan`. */
export const PLAN_FORMATS = ['text', 'json', 'markdown'] as const;

/** PlanFormat is one of PLAN_FORMATS. */
export type PlanFormat = (typeof PLAN_FORMATS)[number];

/** planHasChanges tells whether the plan would change anything (the exit status of `plan --exit-code`). */
export function planHasChanges(p: RevisionPlan): boolean {
  return p.create.length + p.update.length + p.prune.length > 0;
}

const short = (c: string | undefined) => (c ? c.slice(0, 12) : '');
const value = (v: unknown) => (v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v));

function change(c: FieldChange): string {
  if (c.op === 'add') return `${c.path}: + ${value(c.to)}`;
  if (c.op === 'remove') return `${c.path}: - ${value(c.from)}`;
  return `${c.path}: ${value(c.from)} -> ${value(c.to)}`;
}

function headline(p: RevisionPlan): string {
  const against = p.base.commit ? `${p.base.name} (${short(p.base.commit)})` : p.base.name;
  return `plan for ${p.ref.name} (${short(p.ref.commit)}) against ${against}`;
}

function counts(p: RevisionPlan): string {
  return `${p.create.length} to create, ${p.update.length} to change, ${p.prune.length} to prune, ${p.unchanged} unchanged`;
}

/** renderPlan renders a plan as text (terminal), json (machines) or markdown (a pull-request comment). */
export function renderPlan(p: RevisionPlan, format: PlanFormat): string {
  if (format === 'json') {
    const { newTasks: _tasks, ...rest } = p;
    return `${JSON.stringify({ ...rest, newTasks: p.newTasks.length, changes: planHasChanges(p) }, null, 2)}\n`;
  }
  return format === 'markdown' ? markdown(p) : text(p);
}

function text(p: RevisionPlan): string {
  const out: string[] = [headline(p), ''];
  if (p.problems.length) {
    out.push(`the revision is invalid and would apply nothing (${p.problems.length} problem${p.problems.length === 1 ? '' : 's'}):`);
    for (const q of p.problems) out.push(`  ${q.file}:${q.line}:${q.column}: ${q.code}: ${q.message}`);
    return `${out.join('\n')}\n`;
  }
  if (p.refused) out.push(`REFUSED: ${p.refused}`, '');
  for (const c of p.create) out.push(`+ ${c.key}${c.secretKeys ? ` (keys: ${c.secretKeys.join(', ') || 'none'})` : ''}`);
  for (const u of p.update) {
    out.push(`~ ${u.key}`);
    for (const c of u.changes) out.push(`    ${change(c)}`);
  }
  for (const r of p.prune) out.push(`- ${r.key}`);
  for (const k of p.keep) out.push(`= ${k.key} (kept: ${k.reason})`);
  if (!planHasChanges(p)) out.push('no changes');
  out.push('', counts(p));
  if (p.rollout.length) {
    out.push('', 'rollout:');
    for (const r of p.rollout) {
      out.push(`  ${r.key}: ${r.summary}`);
      r.waves?.forEach((w, i) => out.push(`    wave ${i + 1}: start ${w.start} new, stop ${w.stop} old -> ${w.newTasks} new, ${w.oldTasks} old`));
    }
  }
  if (p.slos.length) {
    out.push('', 'slo rules (Prometheus):');
    for (const x of p.slos) {
      out.push(`  ${{ create: '+', update: '~', delete: '-' }[x.action]} ${x.key}: ${x.summary}`);
      for (const r of x.rules) out.push(`      ${r}`);
    }
  }
  if (p.scheduling) {
    const s = p.scheduling;
    out.push('', 'scheduling preview:');
    if (s.note) out.push(`  ${s.note}`);
    else {
      out.push(`  ${s.placed} of ${s.placed + s.unplaced.length} new tasks fit on ${s.nodes} nodes`);
      for (const u of s.unplaced) out.push(`  WOULD NOT FIT: ${u.taskId} (${u.jobKey}): ${u.message}`);
      for (const x of s.preemptions) out.push(`  PREEMPTS: ${x.taskId} on ${x.node} (priority ${x.priority}) for ${x.preemptor} (priority ${x.preemptorPriority})`);
    }
  }
  return `${out.join('\n')}\n`;
}

const md = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (s: string) => `\`${s.replace(/`/g, "'")}\``;

function markdown(p: RevisionPlan): string {
  const out: string[] = [`### gitcell ${md(headline(p))}`, ''];
  if (p.problems.length) {
    out.push(`:x: **The revision is invalid and would apply nothing** (${p.problems.length} problem${p.problems.length === 1 ? '' : 's'}):`, '');
    for (const q of p.problems) out.push(`- ${code(`${q.file}:${q.line}:${q.column}`)} ${q.code}: ${md(q.message)}`);
    return `${out.join('\n')}\n`;
  }
  if (p.refused) out.push(`:no_entry: **Refused:** ${md(p.refused)}`, '');
  out.push(`**${counts(p)}**`, '');
  if (planHasChanges(p) || p.keep.length) {
    out.push('| | Object | Changes |', '|---|---|---|');
    for (const c of p.create) out.push(`| :heavy_plus_sign: | ${code(c.key)} | created${c.secretKeys ? `; keys ${c.secretKeys.map(code).join(', ')}` : ''} |`);
    for (const u of p.update) out.push(`| :pencil2: | ${code(u.key)} | ${u.changes.map((c) => code(change(c))).map(md).join('<br>')} |`);
    for (const r of p.prune) out.push(`| :heavy_minus_sign: | ${code(r.key)} | pruned |`);
    for (const k of p.keep) out.push(`| :pushpin: | ${code(k.key)} | kept: ${md(k.reason)} |`);
    out.push('');
  }
  if (p.rollout.length) {
    out.push('<details><summary>Rollout steps</summary>', '');
    for (const r of p.rollout) {
      out.push(`- ${code(r.key)}: ${md(r.summary)}`);
      r.waves?.forEach((w, i) => out.push(`  ${i + 1}. start ${w.start} new, stop ${w.stop} old → ${w.newTasks} new, ${w.oldTasks} old`));
    }
    out.push('', '</details>', '');
  }
  if (p.slos.length) {
    out.push('<details><summary>SLO rules (Prometheus)</summary>', '');
    for (const x of p.slos) {
      out.push(`- ${x.action} ${code(x.key)}: ${md(x.summary)}`);
      for (const r of x.rules) out.push(`  - ${code(r)}`);
    }
    out.push('', '</details>', '');
  }
  if (p.scheduling) {
    const s = p.scheduling;
    out.push('#### Scheduling preview', '');
    if (s.note) out.push(md(s.note));
    else {
      const mark = s.unplaced.length ? ':warning:' : ':white_check_mark:';
      out.push(`${mark} ${s.placed} of ${s.placed + s.unplaced.length} new tasks fit on ${s.nodes} nodes.`);
      if (s.unplaced.length) {
        out.push('', '| Would not fit | Job | Why |', '|---|---|---|');
        for (const u of s.unplaced) out.push(`| ${code(u.taskId)} | ${code(u.jobKey)} | ${md(u.message)} |`);
      }
      if (s.preemptions.length) {
        out.push('', '| Preempted | Node | For |', '|---|---|---|');
        for (const x of s.preemptions) out.push(`| ${code(x.taskId)} (priority ${x.priority}) | ${code(x.node)} | ${code(x.preemptor)} (priority ${x.preemptorPriority}) |`);
      }
    }
    out.push('');
  }
  return `${out.join('\n')}\n`;
}
