/**
 * The scale benchmark's workload (pure): `jobs` service Jobs of `tasksPerJob` tasks each, in mixed
 * sizes and priorities, two DaemonSets (every hollow node; large nodes only) and two CronJobs, as
 * manifest files of a repository. `changeTemplates` is the second commit: an env value changed in a
 * fraction of the Jobs, so every one of them rolls.
 */

/** ScaleWorkload says how big the commit is. */
export interface ScaleWorkload {
  jobs: number;
  tasksPerJob: number;
}

/** SIZES are the task shapes the Jobs cycle through (requests; limits are twice). */
export const SIZES = [
  { cpu: '50m', memory: '64Mi' },
  { cpu: '100m', memory: '128Mi' },
  { cpu: '250m', memory: '256Mi' },
  { cpu: '500m', memory: '512Mi' },
] as const;

/** PRIORITIES are the bands the Jobs cycle through (no preemption: the cell has room for all). */
export const PRIORITIES = ['production', 'batch', 'best-effort', 'production', 'batch'] as const;

/** DAEMONSETS are the DaemonSets of the workload with the node labels they select. */
export const DAEMONSETS: Record<string, Record<string, string>> = {
  'node-agent': { 'gitcell.io/hollow': 'true' },
  'large-cache': { shape: 'large' },
};

/** jobName is the i-th Job's name. */
export function jobName(i: number): string {
  return `j${String(i).padStart(4, '0')}`;
}

function job(i: number, w: ScaleWorkload, mode: string): string {
  const size = SIZES[i % SIZES.length]!;
  return `apiVersion: gitcell.io/v1
kind: Job
metadata:
  name: ${jobName(i)}
spec:
  owner: team-${i % 20}
  type: service
  replicas: ${w.tasksPerJob}
  priority: ${PRIORITIES[i % PRIORITIES.length]}
  strategy:
    maxUnavailable: 25%
    maxSurge: 25%
    progressDeadlineSeconds: 600
  template:
    image: localhost/hollow:latest
    command: ["sleep", "infinity"]
    env:
      - name: MODE
        value: ${mode}
    resources:
      requests: {cpu: ${size.cpu}, memory: ${size.memory}}
      limits: {cpu: ${size.cpu}, memory: ${size.memory}}
    restartPolicy: Always
`;
}

function daemonSet(name: string, selector: Record<string, string>): string {
  const sel = Object.entries(selector).map(([k, v]) => `      ${k}: "${v}"`).join('\n');
  return `apiVersion: gitcell.io/v1
kind: DaemonSet
metadata:
  name: ${name}
spec:
  owner: team-ops
  priority: monitoring
  strategy:
    maxUnavailable: 10%
  template:
    image: localhost/hollow:latest
    command: ["sleep", "infinity"]
    nodeSelector:
${sel}
    resources:
      requests: {cpu: 10m, memory: 16Mi}
`;
}

function cronJob(name: string, schedule: string): string {
  return `apiVersion: gitcell.io/v1
kind: CronJob
metadata:
  name: ${name}
spec:
  schedule: "${schedule}"
  timeZone: UTC
  concurrencyPolicy: Forbid
  jobTemplate:
    owner: team-ops
    priority: best-effort
    template:
      image: localhost/hollow:latest
      command: ["sleep", "infinity"]
      resources:
        requests: {cpu: 10m, memory: 16Mi}
      restartPolicy: Never
`;
}

/** workloadFiles are the repository's files (path -> content) of the first commit. */
export function workloadFiles(w: ScaleWorkload): Map<string, string> {
  const files = new Map<string, string>();
  for (let i = 0; i < w.jobs; i++) files.set(`jobs/${jobName(i)}.yaml`, job(i, w, 'v1'));
  for (const [name, sel] of Object.entries(DAEMONSETS)) files.set(`daemonsets/${name}.yaml`, daemonSet(name, sel));
  files.set('cronjobs/report.yaml', cronJob('report', '0 3 * * *'));
  files.set('cronjobs/compact.yaml', cronJob('compact', '30 4 * * 0'));
  return files;
}

/** changedJobs are the Jobs whose template the second commit changes: every tenth. */
export function changedJobs(w: ScaleWorkload, fraction = 0.1): number[] {
  const step = Math.round(1 / fraction);
  return Array.from({ length: w.jobs }, (_, i) => i).filter((i) => i % step === 0);
}

/** changeTemplates are the files the second commit rewrites (MODE v1 -> v2 in `changedJobs`). */
export function changeTemplates(w: ScaleWorkload): Map<string, string> {
  return new Map(changedJobs(w).map((i) => [`jobs/${jobName(i)}.yaml`, job(i, w, 'v2')]));
}
