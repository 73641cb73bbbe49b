// Checks of a task template that a schema cannot express: quantities, limits >= requests, one
// handler per probe, named probe ports, env value XOR valueFrom, restart policy of the workload.
import { QuantityError, formatCpu, formatMemory, parseQuantity, type QuantityResource } from '../../api/index.ts';
import type { FieldPath } from '../manifests/index.ts';
import { ValidationCode, arrayAt, isRecord, recordAt, stringAt, type Report } from './finding.ts';
import { quote } from './format.ts';

/** TemplateUse says what runs the template, which decides the allowed restart policies. */
export type TemplateUse = 'service' | 'batch' | 'daemon';

const RESTART_POLICIES: Record<TemplateUse, readonly string[]> = {
  service: ['Always'],
  daemon: ['Always'],
  batch: ['OnFailure', 'Never'],
};

/** checkTemplate reports the cross-field problems of the template at `base`; `use` undefined skips the restart-policy rule. */
export function checkTemplate(tpl: unknown, base: FieldPath, use: TemplateUse | undefined, report: Report): void {
  if (!isRecord(tpl)) return;
  checkResources(recordAt(tpl, 'resources'), [...base, 'resources'], report);
  const portNames = arrayAt(tpl, 'ports').map((p) => stringAt(p, 'name')).filter((n): n is string => n !== undefined);
  for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
    const p = recordAt(tpl, probe);
    if (p) checkProbe(p, [...base, probe], portNames, report);
  }
  const seenEnv = new Map<string, number>();
  arrayAt(tpl, 'env').forEach((e, i) => {
    if (!isRecord(e)) return;
    if ('value' in e && 'valueFrom' in e) report([...base, 'env', i], ValidationCode.conflict, 'set either value or valueFrom, not both');
    const name = stringAt(e, 'name');
    if (name !== undefined) {
      const first = seenEnv.get(name);
      if (first !== undefined) report([...base, 'env', i, 'name'], ValidationCode.conflict, `environment variable ${quote(name)} is already set by env[${first}]`);
      else seenEnv.set(name, i);
    }
  });
  const policy = stringAt(tpl, 'restartPolicy');
  if (use === undefined) return;
  const allowed = RESTART_POLICIES[use];
  if (policy !== undefined && RESTART_POLICIES.service.concat(RESTART_POLICIES.batch).includes(policy) && !allowed.includes(policy)) {
    const what = use === 'batch' ? 'batch tasks run to completion' : use === 'daemon' ? 'DaemonSet tasks run forever' : 'service tasks run forever';
    report([...base, 'restartPolicy'], ValidationCode.conflict, `must be ${allowed.map((a) => quote(a)).join(' or ')} (got ${quote(policy)}): ${what}`);
  }
}

function checkResources(resources: Record<string, unknown> | undefined, base: FieldPath, report: Report): void {
  if (!resources) return;
  for (const resource of ['cpu', 'memory'] as const) {
    const req = quantityAt(recordAt(resources, 'requests'), resource, [...base, 'requests', resource], report);
    const lim = quantityAt(recordAt(resources, 'limits'), resource, [...base, 'limits', resource], report);
    if (req !== undefined && lim !== undefined && lim < req) {
      const fmt = resource === 'cpu' ? formatCpu : formatMemory;
      report([...base, 'limits', resource], ValidationCode.limitBelowRequest, `${resource} limit ${fmt(lim)} is below the request ${fmt(req)}`);
    }
  }
}

function quantityAt(list: Record<string, unknown> | undefined, resource: QuantityResource, path: FieldPath, report: Report): number | undefined {
  if (!list || !(resource in list)) return undefined;
  const raw = list[resource];
  if (typeof raw !== 'string' && typeof raw !== 'number') return undefined; // the schema reports the type
  try {
    return parseQuantity(raw, resource);
  } catch (err) {
    if (err instanceof QuantityError) {
      report(path, err.code, err.message);
      return undefined;
    }
    throw err;
  }
}

function checkProbe(probe: Record<string, unknown>, base: FieldPath, portNames: readonly string[], report: Report): void {
  const handlers = ['httpGet', 'tcpSocket', 'exec'].filter((h) => h in probe);
  if (handlers.length !== 1) {
    report(base, ValidationCode.conflict, handlers.length === 0 ? 'a probe needs one of httpGet, tcpSocket or exec' : `a probe takes exactly one of httpGet, tcpSocket or exec (got ${handlers.join(' and ')})`);
  }
  for (const h of ['httpGet', 'tcpSocket']) {
    const port = recordAt(probe, h)?.port;
    if (typeof port === 'string' && /^[a-z0-9-]+$/.test(port) && !portNames.includes(port)) {
      report([...base, h, 'port'], ValidationCode.portNotFound, `no port named ${quote(port)} in the template's ports (named: ${portNames.map((n) => quote(n)).join(', ') || 'none'})`);
    }
  }
}
