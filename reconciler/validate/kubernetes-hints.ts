// What a Kubernetes (or Flux) user writes, and what gitcell has for it: `validate` adds these hints
// to "unknown kind" and to a Kubernetes apiVersion on a kind gitcell also has (CronJob batch/v1).
import { quote } from './format.ts';

/** KUBERNETES_KINDS maps a Kubernetes kind gitcell does not have to the gitcell way of doing it. */
export const KUBERNETES_KINDS: Readonly<Record<string, string>> = {
  Deployment: 'a Deployment is a gitcell Job with `type: service` (spec.replicas, a rolling spec.strategy; spec.template is the one container: image, command, ports, probes)',
  ReplicaSet: 'a ReplicaSet is a gitcell Job with `type: service` and spec.replicas',
  StatefulSet: 'a StatefulSet is a gitcell Job with `type: service` (tasks keep their index, not per-task volumes)',
  Pod: 'a Pod is a gitcell Job: `type: service` with replicas: 1 to keep it running, `type: batch` to run it once',
  ConfigMap: 'gitcell has no ConfigMap: put values in the template\'s env, or files in a Secret mounted with secretMounts',
  Ingress: 'gitcell has no Ingress: a Service of `type: NodePort` opens a port on every node',
  Namespace: 'namespaces need no object in gitcell: metadata.namespace of an object creates its namespace',
  PersistentVolumeClaim: 'gitcell tasks have no persistent volumes yet; Secrets mount as files (secretMounts)',
  HorizontalPodAutoscaler: 'gitcell does not autoscale: set spec.replicas of the Job',
  ServiceAccount: 'gitcell has no service accounts: a task gets only what its template gives it',
  Kustomization: 'gitcell reads plain manifests from the repository (no kustomize); point the source at the folder holding them',
  HelmRelease: 'gitcell reads plain manifests from the repository (no Helm): render the chart into the repository',
};

/** GITCELL_API_VERSION is the apiVersion of every built-in kind. */
const GITCELL_API_VERSION = 'gitcell.io/v1';

/** kindHint is the hint for an unknown kind that Kubernetes has, or undefined. */
export function kindHint(kind: string): string | undefined {
  return KUBERNETES_KINDS[kind];
}

/**
 * apiVersionHint explains a Kubernetes apiVersion (apps/v1, batch/v1, v1, ...) on a kind gitcell has,
 * e.g. a CronJob of batch/v1; undefined for gitcell's own apiVersion or anything else.
 */
export function apiVersionHint(kind: string, apiVersion: unknown): string | undefined {
  if (typeof apiVersion !== 'string' || apiVersion === GITCELL_API_VERSION) return undefined;
  if (!/^(v1|apps\/v1|batch\/v1|batch\/v1beta1|extensions\/v1beta1)$/.test(apiVersion)) return undefined;
  const shape: Record<string, string> = {
    Job: 'its spec has `type: batch` (completions, parallelism, backoffLimit) or `type: service`, and spec.template is the one container (image, command), not a Pod spec',
    CronJob: 'spec.schedule as in Kubernetes, and spec.jobTemplate.template is the one container (image, command), not jobTemplate.spec.template.spec.containers',
    DaemonSet: 'spec.template is the one container (image, command), not a Pod spec with containers',
    Service: 'spec.selector matches task labels, spec.ports name port and targetPort as in Kubernetes',
    Secret: 'values are sealed (`gitcell secret seal`) into spec.encryptedData; plaintext data only in dev mode',
  };
  return `${quote(apiVersion)} is Kubernetes' apiVersion: gitcell's ${kind} is apiVersion ${quote(GITCELL_API_VERSION)}${shape[kind] ? `; ${shape[kind]}` : ''}`;
}
