import type { Command } from 'commander';
import { dump } from 'js-yaml';
import { GitcellError } from '../../lib/errors.ts';
import { DEFAULT_NAMESPACE } from '../../api/index.ts';
import { desiredKey } from '../../store/index.ts';
import { objectStatusKey } from '../../reconciler/index.ts';
import { addClusterOptions, age, table, withStore, type ClientOptions } from '../client.ts';
import { formatEvent } from './events.ts';
import { listTasks } from './get.ts';

const KINDS: Record<string, string> = { job: 'Job', jobs: 'Job', daemonset: 'DaemonSet', daemonsets: 'DaemonSet', ds: 'DaemonSet', cronjob: 'CronJob', cronjobs: 'CronJob', cj: 'CronJob', secret: 'Secret', secrets: 'Secret', node: 'Node', nodes: 'Node' };

/** redactSecret keeps a Secret's key names and hides every value. */
function redactSecret(o: Record<string, unknown>): Record<string, unknown> {
  const spec = { ...((o.spec as Record<string, unknown>) ?? {}) };
  for (const f of ['encryptedData', 'data', 'stringData']) {
    const m = spec[f] as Record<string, unknown> | undefined;
    if (m) spec[f] = Object.fromEntries(Object.keys(m).map((k) => [k, '(hidden)']));
  }
  return { ...o, spec };
}

/** registerDescribe adds `gitcell describe KIND NAME [-n NAMESPACE]`: object, status, tasks and recent events. */
export function registerDescribe(program: Command): void {
  addClusterOptions(
    program
      .command('describe')
      .description('show one object: its manifest, status, tasks and recent events')
      .argument('<kind>', 'job, daemonset, cronjob, secret, node or a custom kind')
      .argument('<name>', 'object name')
      .option('-n, --namespace <ns>', 'namespace', DEFAULT_NAMESPACE),
  ).action(async (kindArg: string, name: string, opts: ClientOptions & { namespace: string }) => {
    const kind = KINDS[kindArg.toLowerCase()] ?? kindArg;
    const ns = opts.namespace;
    await withStore(opts, 'describe', async (store) => {
      const w = (s: string) => process.stdout.write(s);
      let eventPrefix: string;
      if (kind === 'Node') {
        const node = await store.nodes.get(name);
        if (!node) throw new GitcellError('E_NOT_FOUND', `node ${name} not found`, { kind, name });
        const spec = await store.nodespec.get(name);
        w(dump({ node: node.value, ...(spec ? { spec: spec.value } : {}) }));
        const tasks = (await listTasks(store)).filter((t) => t.node === name);
        w(`\nTasks (${tasks.length}):\n`);
        if (tasks.length) w(table(['ID', 'JOB', 'STATE', 'READY', 'RESTARTS'], tasks.map((t) => [t.spec.id, t.spec.jobKey, t.state, t.ready ? 'yes' : 'no', t.status?.restarts ?? 0])));
        eventPrefix = `Node._.${name}`;
      } else {
        const rec = await store.desired.get(desiredKey(kind, ns, name));
        if (!rec) throw new GitcellError('E_NOT_FOUND', `${kind} ${ns}/${name} not found`, { kind, namespace: ns, name });
        const r = rec.value;
        w(`Name:       ${name}\nNamespace:  ${ns}\nKind:       ${kind}\nGeneration: ${r.generation}\nRevision:   ${r.revision} (${r.origin.type})\nUpdated:    ${r.updatedAt} (${age(r.updatedAt)} ago)\n\n`);
        const object = kind === 'Secret' ? redactSecret(r.object as unknown as Record<string, unknown>) : r.object;
        w(`Manifest:\n${dump(object).replace(/^/gm, '  ')}\n`);
        const status = (await store.sync.get(objectStatusKey(kind, ns, name)))?.value;
        if (status) w(`Status:\n${dump(status).replace(/^/gm, '  ')}\n`);
        if (kind === 'Job' || kind === 'DaemonSet') {
          const tasks = (await listTasks(store)).filter((t) => t.spec.jobKey === `${kind}/${ns}/${name}`);
          w(`Tasks (${tasks.length}):\n`);
          if (tasks.length) {
            w(table(['ID', 'NODE', 'STATE', 'READY', 'RESTARTS', 'TEMPLATE', 'MESSAGE'], tasks.map((t) => [t.spec.id, t.node ?? '-', t.state, t.ready ? 'yes' : 'no', t.status?.restarts ?? 0, t.spec.templateHash.slice(0, 10), t.status?.message ?? ''])));
          }
          w('\n');
        }
        eventPrefix = `${kind}.${ns}.${name}`;
      }
      const events = await store.events.recent({ limit: 20, prefix: eventPrefix });
      w(`Events (${events.length}):\n`);
      for (const e of events) w(`  ${formatEvent(e.value)}\n`);
    });
  });
}
