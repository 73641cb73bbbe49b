// Default requests and limits for tasks whose manifests give none, like Kubernetes' LimitRange
// defaults: from `.gitcell.yaml` (`defaults.resources`, and per namespace
// `defaults.namespaces.<ns>.resources`). They are written into the objects themselves before the
// build, so `gitcell plan`, the desired records and the tasks all show the values that apply.
import type { AnyObject, ResourceList, ResourceRequirements, TaskTemplateSpec } from '../../api/index.ts';
import { DEFAULT_NAMESPACE, parseCpu, parseMemory } from '../../api/index.ts';

/** ResourceDefaults are the repository's default requests/limits, with per-namespace overrides. */
export interface ResourceDefaults {
  resources?: ResourceRequirements;
  namespaces?: Record<string, { resources?: ResourceRequirements }>;
}

/** defaultsFor merges a namespace's defaults over the repository's, resource by resource. */
export function defaultsFor(d: ResourceDefaults | undefined, namespace: string): ResourceRequirements {
  const base = d?.resources ?? {};
  const ns = d?.namespaces?.[namespace]?.resources ?? {};
  return { requests: { ...base.requests, ...ns.requests }, limits: { ...base.limits, ...ns.limits } };
}

/**
 * withDefaultResources fills what a template leaves out, per resource (cpu, memory): a missing
 * limit gets the default limit (raised to the template's own request when that is larger, so a
 * valid manifest stays valid); a missing request gets the default request only when the template
 * sets no limit for it either (a limit alone keeps meaning request = limit, as in Kubernetes), and
 * never above the limit that applies. Returns the template itself when nothing changes. Pure.
 */
export function withDefaultResources(tpl: TaskTemplateSpec, def: ResourceRequirements): TaskTemplateSpec {
  const own = tpl.resources ?? {};
  const requests: ResourceList = { ...own.requests };
  const limits: ResourceList = { ...own.limits };
  let changed = false;
  for (const kind of ['cpu', 'memory'] as const) {
    const parse = kind === 'cpu' ? parseCpu : parseMemory;
    const ownLimit = own.limits?.[kind];
    const ownRequest = own.requests?.[kind];
    if (ownLimit === undefined && def.limits?.[kind] !== undefined) {
      const d = def.limits[kind]!;
      limits[kind] = ownRequest !== undefined && parse(ownRequest) > parse(d) ? ownRequest : d;
      changed = true;
    }
    if (ownRequest === undefined && ownLimit === undefined && def.requests?.[kind] !== undefined) {
      const d = def.requests[kind]!;
      const limit = limits[kind];
      requests[kind] = limit !== undefined && parse(d) > parse(limit) ? limit : d;
      changed = true;
    }
  }
  if (!changed) return tpl;
  return {
    ...tpl,
    resources: { ...(Object.keys(requests).length ? { requests } : {}), ...(Object.keys(limits).length ? { limits } : {}) },
  };
}

/** applyResourceDefaults returns `objects` with defaults filled into every Job, DaemonSet and CronJob template. Pure. */
export function applyResourceDefaults<T extends { object: AnyObject }>(objects: readonly T[], d: ResourceDefaults | undefined): T[] {
  if (!d) return [...objects];
  return objects.map((it) => {
    const o = it.object as AnyObject & { spec?: { template?: TaskTemplateSpec; jobTemplate?: { template?: TaskTemplateSpec } } };
    const def = defaultsFor(d, o.metadata.namespace ?? DEFAULT_NAMESPACE);
    if ((o.kind === 'Job' || o.kind === 'DaemonSet') && o.spec?.template) {
      const t = withDefaultResources(o.spec.template, def);
      return t === o.spec.template ? it : { ...it, object: { ...o, spec: { ...o.spec, template: t } } as AnyObject };
    }
    if (o.kind === 'CronJob' && o.spec?.jobTemplate?.template) {
      const t = withDefaultResources(o.spec.jobTemplate.template, def);
      return t === o.spec.jobTemplate.template ? it : { ...it, object: { ...o, spec: { ...o.spec, jobTemplate: { ...o.spec.jobTemplate, template: t } } } as AnyObject };
    }
    return it;
  });
}
