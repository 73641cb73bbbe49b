/**
 * ViewClock: the instant up to which an informer's copy is known complete, for decisions that judge
 * records against time (a node's liveness from its last heartbeat). A copy that fell behind (a busy
 * process, a flood of heartbeats) holds old heartbeats; judged against the wall clock, every node in
 * it looks silent. At 10,000 nodes one scheduler pass found "0/10000 nodes fit: 10000 node not
 * ready" for 17,683 tasks; past the re-queue grace the same view would have unbound every task.
 * Judged as of the instant the copy is known to reflect, a lagging copy only delays a decision.
 *
 *   sync(): at = now ─► revision = bucket.lastRevision() (leader read) ─► sample {revision, at}
 *           ─► wait up to waitMs for the informer to reach it
 *   asOf(): the newest `at` whose revision the informer has reached: every write acknowledged
 *           before that instant is in the copy (samples not reached yet wait for later calls)
 */
import type { InformerView } from './informer.ts';

/** ViewClockSource is what a clock needs of the bucket behind the informer (a RoBucket has it). */
export interface ViewClockSource {
  lastRevision(): Promise<number>;
}

/** Sample says that every write acknowledged before `at` has a revision of at most `revision`. */
interface Sample {
  revision: number;
  at: number;
}

/** samples kept that the informer has not reached yet; the oldest go first (newer ones say more) */
const MAX_SAMPLES = 32;

/** ViewClock tells, for one informer of a whole bucket, as of when its copy is complete. */
export class ViewClock {
  private samples: Sample[] = [];
  private known: number | undefined;

  constructor(
    private readonly view: Pick<InformerView<unknown>, 'revision' | 'caughtUp'>,
    private readonly source: ViewClockSource,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * sync samples the bucket's newest revision, waits up to `waitMs` for the informer to reach it
   * and returns asOf(). Throws when the bucket cannot be read (the store is unavailable).
   */
  async sync(waitMs: number): Promise<number | undefined> {
    const at = this.now();
    const revision = await this.source.lastRevision();
    this.samples.push({ revision, at });
    if (this.samples.length > MAX_SAMPLES) this.samples.shift();
    await this.view.caughtUp(revision, waitMs);
    return this.asOf();
  }

  /** asOf is the newest instant as of which the copy is known complete; undefined before the first reached sample. */
  asOf(): number | undefined {
    const reached = this.view.revision;
    const { asOf, rest } = advance(this.samples, reached, this.known);
    this.samples = rest;
    this.known = asOf;
    return asOf;
  }
}

/** advance folds the samples the informer has reached (revision <= reached) into asOf. Pure. */
export function advance(samples: readonly Sample[], reached: number, asOf: number | undefined): { asOf: number | undefined; rest: Sample[] } {
  let out = asOf;
  const rest: Sample[] = [];
  for (const s of samples) {
    if (s.revision <= reached) out = out === undefined ? s.at : Math.max(out, s.at);
    else rest.push(s);
  }
  return { asOf: out, rest };
}
