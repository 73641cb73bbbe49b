// Records for scheduler service tests: full NodeRecords and TaskSpecs, and a heartbeat loop that
// plays a node's agent.
import type { NodeRecord, TaskSpec } from '../../../api/index.ts';
import type { ClusterStore } from '../../../store/index.ts';

export const Gi = 1024 ** 3;

/** nodeRecord is a node's registration with a heartbeat at `beat`. */
export function nodeRecord(name: string, cpuMillis = 4000, memoryBytes = 16 * Gi, beat = new Date()): NodeRecord {
  return {
    name,
    labels: {},
    taints: [],
    capacity: { cpuMillis, memoryBytes, tasks: 110 },
    allocatable: { cpuMillis, memoryBytes, tasks: 110 },
    addresses: ['127.0.0.1'],
    runtime: { runc: '1.1.5', kernel: 'test', agentVersion: 'test' },
    images: [],
    startedAt: beat.toISOString(),
    heartbeatAt: beat.toISOString(),
  };
}

/** taskSpec is a batch task of job `job` requesting `cpuMillis` and `memoryBytes`. */
export function taskSpec(job: string, index: number, cpuMillis = 100, memoryBytes = 128 * 1024 ** 2, priority = 100): TaskSpec {
  return {
    id: `${job}-${index}`,
    namespace: 'default',
    owner: { kind: 'Job', name: job },
    jobKey: `Job/default/${job}`,
    index,
    priority,
    type: 'batch',
    templateHash: 'h1',
    template: {
      image: 'app:1',
      env: [],
      resources: { requests: { cpuMillis, memoryBytes }, limits: {} },
      ports: [],
      probes: {},
      secretMounts: [],
      nodeSelector: {},
      tolerations: [],
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 1,
    },
    generation: 1,
    createdAt: new Date().toISOString(),
  };
}

/** Heartbeats plays the agents of some nodes: it rewrites their heartbeat every `everyMs`. */
export class Heartbeats {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** last heartbeat time written per node */
  readonly last = new Map<string, number>();

  constructor(private readonly store: ClusterStore, private readonly everyMs = 200) {}

  async start(record: NodeRecord): Promise<void> {
    const beat = async (): Promise<void> => {
      const now = new Date();
      await this.store.nodes.put(record.name, { ...record, heartbeatAt: now.toISOString() });
      this.last.set(record.name, now.getTime());
    };
    await beat();
    this.timers.set(record.name, setInterval(() => void beat().catch(() => undefined), this.everyMs));
  }

  /** stop ends one node's heartbeats (its agent "dies"). */
  stop(name: string): void {
    clearInterval(this.timers.get(name));
    this.timers.delete(name);
  }

  stopAll(): void {
    for (const name of [...this.timers.keys()]) this.stop(name);
  }
}

/** waitFor polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
