// Typed manifest fixtures. Because they are typed with api/ types AND validated against crds/
// schemas (test/unit/crds/schema-drift.test.ts), they also pin the two together.
import type { CronJob, CustomObject, CustomResourceDefinition, DaemonSet, Job, Receiver, SLO, Secret, Service } from '../../api/index.ts';

/** fullJob uses every field of a service Job at least once. */
export function fullJob(): Job {
  return {
    apiVersion: 'gitcell.io/v1',
    kind: 'Job',
    metadata: { name: 'web', namespace: 'default', labels: { app: 'web', 'gitcell.io/tier': 'frontend' }, annotations: { note: 'anything goes here' } },
    spec: {
      owner: 'team-web',
      type: 'service',
      replicas: 3,
      priority: 'production',
      strategy: { type: 'Rolling', maxUnavailable: 1, maxSurge: '25%', progressDeadlineSeconds: 120 },
      autoscale: {
        minReplicas: 2,
        maxReplicas: 10,
        metrics: [
          { resource: 'cpu', targetAverageUtilization: 60 },
          { prometheus: { query: 'sum by (task) (rate(http_requests_total{job="web"}[1m]))', taskLabel: 'task' }, targetAverageValue: 50 },
        ],
        behavior: {
          scaleUp: { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Pods', value: 4, periodSeconds: 15 }] },
          scaleDown: { stabilizationWindowSeconds: 300, selectPolicy: 'Min', policies: [{ type: 'Percent', value: 10, periodSeconds: 60 }] },
        },
      },
      template: {
        labels: { app: 'web' },
        image: 'localhost/busybox:latest',
        imagePullPolicy: 'IfNotPresent',
        imagePullSecrets: [{ name: 'regcred' }],
        command: ['httpd'],
        args: ['-f', '-p', '8080'],
        env: [
          { name: 'MODE', value: 'prod' },
          { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
        ],
        workingDir: '/www',
        user: '1000:1000',
        resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: 1, memory: '128Mi' } },
        securityContext: { runAsUser: 1000, runAsGroup: 1000, runAsNonRoot: true, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } },
        ports: [{ name: 'http', containerPort: 8080, hostPort: 18080, protocol: 'TCP' }],
        livenessProbe: {
          httpGet: { path: '/', port: 'http', host: '127.0.0.1', scheme: 'HTTP', httpHeaders: [{ name: 'X-Probe', value: 'live' }] },
          initialDelaySeconds: 1,
          periodSeconds: 5,
          timeoutSeconds: 1,
          successThreshold: 1,
          failureThreshold: 3,
        },
        readinessProbe: { tcpSocket: { port: 8080, host: '127.0.0.1' } },
        startupProbe: { exec: { command: ['true'] } },
        secretMounts: [{ secretName: 'db', mountPath: '/run/secrets/db', items: [{ key: 'password', path: 'password' }], defaultMode: 0o400 }],
        nodeSelector: { disk: 'ssd' },
        tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'web', effect: 'NoSchedule' }],
        restartPolicy: 'Always',
        terminationGracePeriodSeconds: 10,
      },
    },
  };
}

/** batchJob is a run-to-completion Job using every batch field. */
export function batchJob(): Job {
  return {
    apiVersion: 'gitcell.io/v1',
    kind: 'Job',
    metadata: { name: 'report' },
    spec: {
      type: 'batch',
      priority: 150,
      completions: 4,
      parallelism: 2,
      backoffLimit: 3,
      activeDeadlineSeconds: 600,
      template: { image: 'localhost/busybox:latest', command: ['sh', '-c', 'echo done'], restartPolicy: 'OnFailure', user: 0 },
    },
  };
}

/** fullDaemonSet uses every DaemonSet field. */
export function fullDaemonSet(): DaemonSet {
  return {
    apiVersion: 'gitcell.io/v1',
    kind: 'DaemonSet',
    metadata: { name: 'node-logger' },
    spec: {
      owner: 'team-ops',
      priority: 'monitoring',
      strategy: { type: 'Rolling', maxUnavailable: '50%', progressDeadlineSeconds: 60 },
      template: { image: 'localhost/busybox:latest', command: ['sleep', '3600'], tolerations: [{ operator: 'Exists' }] },
    },
  };
}

/** fullCronJob uses every CronJob field. */
export function fullCronJob(): CronJob {
  return {
    apiVersion: 'gitcell.io/v1',
    kind: 'CronJob',
    metadata: { name: 'nightly' },
    spec: {
      schedule: '*/15 * * * *',
      timeZone: 'Europe/Paris',
      concurrencyPolicy: 'Forbid',
      suspend: false,
      startingDeadlineSeconds: 30,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 1,
      jobTemplate: {
        owner: 'team-data',
        priority: 'batch',
        completions: 1,
        parallelism: 1,
        backoffLimit: 2,
        activeDeadlineSeconds: 300,
        template: { image: 'localhost/busybox:latest', command: ['date'], restartPolicy: 'Never' },
      },
    },
  };
}

/** sealedSecret is a Secret in sealed form. */
export function sealedSecret(name = 'db'): Secret {
  return {
    apiVersion: 'gitcell.io/v1',
    kind: 'Secret',
    metadata: { name },
    spec: { type: 'Opaque', encryptedData: { password: 'AgBy3i4OJSWK+PiTySYZZA==' } },
  };
}

/** pullSecret holds registry credentials in docker config.json format (Kubernetes' dockerconfigjson type). */
export function pullSecret(name = 'regcred'): Secret {
  return {
    apiVersion: 'gitcell.io/v1',
    kind: 'Secret',
    metadata: { name },
    spec: { type: 'kubernetes.io/dockerconfigjson', encryptedData: { '.dockerconfigjson': 'AgBy3i4OJSWK+PiTySYZZA==' } },
  };
}

/** plaintextSecret is a dev-only Secret with both plaintext forms and the dev annotation. */
export function plaintextSecret(): Secret {
  return {
    apiVersion: 'gitcell.io/v1',
    kind: 'Secret',
    metadata: { name: 'dev', annotations: { 'gitcell.io/allow-plaintext': 'true' } },
    spec: { data: { token: 'c2VjcmV0' }, stringData: { user: 'admin' } },
  };
}

/** fullService uses every field of a Service: a NodePort service in front of the web tasks. */
export function fullService(): Service {
  return {
    apiVersion: 'gitcell.io/v1',
    kind: 'Service',
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      selector: { app: 'web' },
      type: 'NodePort',
      clusterIP: '10.96.0.10',
      ports: [{ name: 'http', protocol: 'TCP', port: 8080, targetPort: 'http', nodePort: 30080 }],
    },
  };
}

/** fullReceiver uses every field of a Receiver: commit statuses on a GitHub Enterprise server. */
export function fullReceiver(): Receiver {
  return {
    apiVersion: 'gitcell.io/v1',
    kind: 'Receiver',
    metadata: { name: 'github', namespace: 'default' },
    spec: {
      type: 'github',
      address: 'https://github.example.com/api/v3',
      repository: 'platform/cluster',
      secretRef: { name: 'forge', key: 'token' },
      context: 'gitcell/production',
      commitUrl: 'https://github.example.com/platform/cluster/commit/{sha}',
      timeoutSeconds: 5,
      alerts: false,
    },
  };
}

/** slackReceiver uses every field of a slack Receiver: alerts of its namespace to a channel. */
export function slackReceiver(): Receiver {
  return {
    apiVersion: 'gitcell.io/v1', kind: 'Receiver', metadata: { name: 'chat', namespace: 'default' },
    spec: { type: 'slack', secretRef: { name: 'chat-hook', key: 'url' }, slack: { channel: '#oncall' }, alerts: true },
  };
}

/** emailReceiver uses every field of an email Receiver: alerts mailed through an authenticated SMTP server. */
export function emailReceiver(): Receiver {
  return {
    apiVersion: 'gitcell.io/v1', kind: 'Receiver', metadata: { name: 'mail', namespace: 'default' },
    spec: {
      type: 'email', secretRef: { name: 'smtp', key: 'password' },
      email: { to: ['oncall@example.com', 'team@example.com'], from: 'gitcell@example.com', smarthost: 'smtp.example.com:587', username: 'gitcell', requireTLS: true },
    },
  };
}

/** fullSLO uses every field of an SLO: 99.5 % of requests are not errors over 28 days. */
export function fullSLO(): SLO {
  return {
    apiVersion: 'gitcell.io/v1',
    kind: 'SLO',
    metadata: { name: 'web-errors', namespace: 'default' },
    spec: { job: 'web', objective: 99.5, window: '28d', indicator: { ratio: { errors: 'http_requests_total{code=~"5.."}', total: 'http_requests_total' } }, labels: { team: 'web' } },
  };
}

/** latencySLO: 99 % of requests faster than 300 ms (a histogram), and the readiness indicator's shape in readinessSLO. */
export function latencySLO(): SLO {
  return {
    apiVersion: 'gitcell.io/v1', kind: 'SLO', metadata: { name: 'web-latency' },
    spec: { job: 'web', objective: 99, indicator: { latency: { histogram: 'http_request_duration_seconds', threshold: 0.3 } } },
  };
}

/** fullCRD defines the user kind Database with every CRD field. */
export function fullCRD(): CustomResourceDefinition {
  return {
    apiVersion: 'gitcell.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'databases' },
    spec: {
      group: 'example.com',
      names: { kind: 'Database', plural: 'databases', singular: 'database', shortNames: ['db'] },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              required: ['spec'],
              properties: {
                spec: {
                  type: 'object',
                  required: ['engine', 'sizeGi'],
                  additionalProperties: false,
                  properties: { engine: { type: 'string', enum: ['postgres', 'mysql'] }, sizeGi: { type: 'integer', minimum: 1 } },
                },
              },
            },
          },
        },
      ],
    },
  };
}

/** database is one object of fullCRD's kind. */
export function database(): CustomObject {
  return { apiVersion: 'example.com/v1', kind: 'Database', metadata: { name: 'orders' }, spec: { engine: 'postgres', sizeGi: 10 } };
}
