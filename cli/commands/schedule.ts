import type { Command } from 'commander';

/** usage ends the command with exit code 2 and the message (commander prints it). */
function usage(cmd: Command, message: string): never {
  cmd.error(`error: ${message}`, { exitCode: 2, code: ErrorCodes.Usage });
}
import { readFile } from 'node:fs/promises';
import Table from 'cli-table3';
import { SchedulerError, silentLogger, ErrorCodes } from '../../lib/index.ts';
import { connectFromOptions, listNodesWithLeases, openClusterStore, readLiveness } from '../../store/index.ts';
import {
  buildSnapshot,
  modeOptions,
  parseDocument,
  parseSnapshot,
  parseTasks,
  previewPlacement,
  type ClusterSnapshot,
  type SchedTask,
} from '../../scheduler/index.ts';
import { addClusterOptions, addModeOption, parseMode } from '../options.ts';

interface ScheduleFlags {
  dryRun?: boolean;
  snapshot?: string;
  tasks?: string;
  nats?: string;
  clusterDir: string;
  creds?: string;
  prefix: string;
  mode: string;
  seed: string;
  heartbeatGraceMs?: string;
  json?: boolean;
}

async function readDoc(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new SchedulerError(ErrorCodes.ScheduleInput, `${file}: cannot read: ${(err as Error).message}`, { file });
  }
  return parseDocument(text, file);
}

/**
 * registerSchedule adds `gitcell schedule --dry-run`: where would tasks land? It runs the same core
 * as the scheduler service (previewPlacement) on a snapshot of the store, or of a file, and never
 * writes anything. Exit 1 when some task would not be placed.
 */
export function registerSchedule(program: Command): void {
  addModeOption(addClusterOptions(program.command('schedule')))
    .description('preview placements (never binds): where tasks would land, and why others would wait')
    .option('--dry-run', 'preview only (the only mode: binding is the scheduler service\'s job)')
    .option('--snapshot <file>', 'cluster snapshot {nodes, running} as JSON/YAML, instead of the live store')
    .option('--tasks <file>', 'tasks to place (JSON/YAML list); default: the store\'s pending tasks')
    .option('--seed <seed>', 'seed of the random choices (same seed, same answer)', 'preview')
    .option('--heartbeat-grace-ms <ms>', 'a node whose heartbeat is older is not ready (default: the grace the scheduler published)')
    .option('--json', 'print the full result as JSON')
    .action(async (flags: ScheduleFlags, cmd: Command) => {
      const mode = parseMode(flags.mode);
      const grace = flags.heartbeatGraceMs === undefined ? undefined : Number(flags.heartbeatGraceMs);
      if (grace !== undefined && (!Number.isFinite(grace) || grace < 0)) usage(cmd, `--heartbeat-grace-ms: "${flags.heartbeatGraceMs}" is not a number of ms`);
      let snapshot: ClusterSnapshot;
      let tasks: SchedTask[] = flags.tasks ? parseTasks(await readDoc(flags.tasks), flags.tasks) : [];
      if (flags.snapshot) {
        snapshot = parseSnapshot(await readDoc(flags.snapshot), flags.snapshot);
      } else {
        const nc = await connectFromOptions({ ...(flags.nats ? { nats: flags.nats } : {}), stateDir: flags.clusterDir, ...(flags.creds ? { creds: flags.creds } : {}), name: 'gitcell schedule' });
        try {
          const store = await openClusterStore(nc, { prefix: flags.prefix, log: silentLogger() });
          const [nodes, specs, storeTasks, bindings] = await Promise.all([listNodesWithLeases(store), store.nodespec.list(), store.tasks.list(), store.bindings.list()]);
          const view = buildSnapshot(
            {
              nodes: nodes.map((r) => r.value),
              nodeSpecs: new Map(specs.map((r) => [r.key, r.value])),
              tasks: storeTasks.map((r) => r.value),
              bindings: new Map(bindings.map((r) => [r.key, r.value])),
            },
            Date.now(),
            grace ?? (await readLiveness(store.cluster)).graceMs,
          );
          snapshot = view.snapshot;
          if (!flags.tasks) tasks = view.pending;
        } finally {
          await nc.close();
        }
      }
      const result = previewPlacement(snapshot, tasks, modeOptions(mode, { seed: flags.seed }));
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      } else {
        const table = new Table({ head: ['task', 'node', 'score', 'note'] });
        for (const p of result.placements) table.push([p.taskId, p.node, p.score.toFixed(1), p.victims?.length ? `preempts ${p.victims.join(', ')}` : '']);
        for (const u of result.unplaced) table.push([u.taskId, '-', '-', u.message]);
        process.stdout.write(`${table.toString()}\n`);
        process.stdout.write(
          `${result.placements.length} placed, ${result.unplaced.length} waiting, ${result.preemptions.length} preempted, on ${snapshot.nodes.length} nodes (dry run: nothing written)\n`,
        );
      }
      if (result.unplaced.length) process.exitCode = 1;
    });
}
