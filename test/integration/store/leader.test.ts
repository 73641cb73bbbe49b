import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../../../lib/index.ts';
import { Bucket, connect, objectCodec, runForLeadership, type Lease } from '../../../store/index.ts';
import { startNatsServer } from '../../helpers/nats.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/candidate.ts', import.meta.url));
const LEASE_MS = 3000;
const RENEW_MS = 1000;

interface Line {
  ev: 'started' | 'leading' | 'act' | 'demoted';
  id: string;
  t: number;
  term?: number;
  accepted?: boolean;
  reason?: string;
}

class Candidate {
  readonly lines: Line[] = [];
  readonly exited: Promise<void>;
  private waiters: Array<() => void> = [];
  constructor(
    readonly id: string,
    readonly proc: ChildProcess,
    log: Line[],
  ) {
    createInterface({ input: proc.stdout! }).on('line', (l) => {
      try {
        const line = JSON.parse(l) as Line;
        this.lines.push(line);
        log.push(line);
        this.waiters.forEach((w) => w());
      } catch {
        // not ours
      }
    });
    this.exited = new Promise((r) => proc.once('exit', () => r()));
  }
  async waitFor(what: string, pred: (l: Line) => boolean, timeoutMs = 15_000): Promise<Line> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`${this.id}: timed out waiting for ${what}; saw ${JSON.stringify(this.lines.slice(-5))}`);
      await new Promise<void>((r) => {
        const timer = setTimeout(r, 200);
        this.waiters.push(() => {
          clearTimeout(timer);
          r();
        });
      });
    }
  }
}

async function startCandidates(t: { after(fn: () => unknown): void }, n: number) {
  const server = await startNatsServer({ t });
  const bucket = `lease_${randomBytes(4).toString('hex')}`;
  const log: Line[] = [];
  const cands: Candidate[] = [];
  t.after(async () => {
    for (const c of cands) c.proc.kill('SIGKILL');
    await Promise.all(cands.map((c) => c.exited));
  });
  for (let i = 0; i < n; i++) {
    const id = `cand-${i}`;
    const proc = spawn(process.execPath, ['--import', 'tsx', FIXTURE, server.url, bucket, id, String(LEASE_MS), String(RENEW_MS)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    cands.push(new Candidate(id, proc, log));
  }
  // Generous: starting node + tsx takes seconds on a loaded 2-core machine.
  await Promise.all(cands.map((c) => c.waitFor('start', (l) => l.ev === 'started', 120_000)));
  return { server, cands, log };
}

async function currentLeader(cands: Candidate[], minTerm: number, timeoutMs = 15_000): Promise<{ c: Candidate; line: Line }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const c of cands) {
      const line = c.lines.find((l) => l.ev === 'leading' && (l.term ?? 0) >= minTerm);
      if (line) return { c, line };
    }
    if (Date.now() > deadline) throw new Error(`no leader with term >= ${minTerm} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Acting periods (leading .. last accepted act) of different terms never overlap, in term order. */
function assertNeverTwoLeaders(log: Line[]): void {
  const byTerm = new Map<number, { id: string; start: number; lastAct: number }>();
  for (const l of log) {
    if (l.ev === 'leading') {
      assert.ok(!byTerm.has(l.term!), `term ${l.term} was granted twice`);
      byTerm.set(l.term!, { id: l.id, start: l.t, lastAct: l.t });
    }
    if (l.ev === 'act' && l.accepted) {
      const p = byTerm.get(l.term!);
      assert.ok(p && p.id === l.id, `act of term ${l.term} by ${l.id}, who never led it`);
      p.lastAct = Math.max(p.lastAct, l.t);
    }
  }
  const terms = [...byTerm.keys()].sort((a, b) => a - b);
  for (let i = 1; i < terms.length; i++) {
    const prev = byTerm.get(terms[i - 1]!)!;
    const cur = byTerm.get(terms[i]!)!;
    assert.ok(prev.lastAct < cur.start, `term ${terms[i - 1]} (${prev.id}) still acted at ${prev.lastAct}, after term ${terms[i]} (${cur.id}) started at ${cur.start}`);
  }
}

test('kill -9 of the leader: a standby leads within lease + one renew period; never two leaders acting', async (t) => {
  const { cands, log } = await startCandidates(t, 3);
  let minTerm = 1;
  const takeovers: number[] = [];
  for (let round = 0; round < 2; round++) {
    const { c: leader, line } = await currentLeader(cands, minTerm);
    await leader.waitFor('an act', (l) => l.ev === 'act' && l.term === line.term);
    const killedAt = Date.now();
    leader.proc.kill('SIGKILL');
    await leader.exited;
    const alive = cands.filter((c) => c !== leader && c.proc.exitCode === null && c.proc.signalCode === null);
    const next = await currentLeader(alive, line.term! + 1);
    const took = next.line.t - killedAt;
    takeovers.push(took);
    assert.ok(took <= LEASE_MS + RENEW_MS, `takeover took ${took} ms > lease ${LEASE_MS} + renew ${RENEW_MS}`);
    await next.c.waitFor('an act of the new leader', (l) => l.ev === 'act' && l.term === next.line.term);
    minTerm = next.line.term!;
  }
  assert.equal(log.filter((l) => l.ev === 'act' && !l.accepted).length, 0, 'no fenced (stale) act was even attempted');
  assertNeverTwoLeaders(log);
  t.diagnostic(`takeover after kill -9: ${takeovers.join(', ')} ms (lease ${LEASE_MS}, renew ${RENEW_MS})`);
});

test('a paused leader (SIGSTOP) stops acting before the standby starts, and notices on resume', async (t) => {
  const { cands, log } = await startCandidates(t, 2);
  const { c: leader, line } = await currentLeader(cands, 1);
  await leader.waitFor('an act', (l) => l.ev === 'act' && l.term === line.term);
  const other = cands.find((c) => c !== leader)!;
  const stoppedAt = Date.now();
  leader.proc.kill('SIGSTOP');
  const next = await currentLeader([other], line.term! + 1);
  await other.waitFor('an act of the new leader', (l) => l.ev === 'act' && l.term === next.line.term);
  // An act in the instant between sending SIGSTOP and the stop taking effect is legitimate (the
  // lease was still valid); what must never happen is an accepted act once the process resumes.
  const resumedAt = Date.now();
  leader.proc.kill('SIGCONT');
  const demoted = await leader.waitFor('demotion after resume', (l) => l.ev === 'demoted' && l.term === line.term);
  assert.ok(demoted.t >= stoppedAt);
  const lateActs = leader.lines.filter((l) => l.ev === 'act' && l.t >= resumedAt && l.accepted);
  assert.deepEqual(lateActs, [], 'the deposed leader acted after resuming');
  assertNeverTwoLeaders(log);
});

test('stop() hands the lease over at once, and the term goes up', async (t) => {
  const server = await startNatsServer({ t });
  const nc = await connect({ servers: server.url });
  t.after(() => nc.close());
  const leases = await Bucket.open<Lease>(nc, { name: `lease_${randomBytes(4).toString('hex')}` }, objectCodec<Lease>(), { log: silentLogger() });
  const terms: Array<{ id: string; term: number; at: number }> = [];
  const mk = (id: string) =>
    runForLeadership({
      leases,
      name: 'x',
      identity: id,
      leaseMs: 10_000,
      renewMs: 1000,
      log: silentLogger(),
      onLeading: (ctx) => void terms.push({ id, term: ctx.term, at: Date.now() }),
    });
  const a = mk('a');
  t.after(() => a.stop());
  while (terms.length === 0) await new Promise((r) => setTimeout(r, 10));
  const b = mk('b');
  t.after(() => b.stop());
  assert.equal(a.leaderTerm(), 1);
  const stopAt = Date.now();
  await a.stop();
  while (terms.length < 2) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(terms.map((x) => [x.id, x.term]), [['a', 1], ['b', 2]]);
  assert.ok(terms[1]!.at - stopAt < 2000, `handover took ${terms[1]!.at - stopAt} ms, should not wait for the 10 s lease`);
  assert.equal((await leases.get('x'))?.value.holder, 'b');
});

test('a candidacy whose connection closed ends by itself (a crashed component leaves no loop behind)', async (t) => {
  const server = await startNatsServer({ t });
  const nc = await connect({ servers: server.url });
  t.after(() => nc.close());
  const leases = await Bucket.open<Lease>(nc, { name: `lease_${randomBytes(4).toString('hex')}` }, objectCodec<Lease>(), { log: silentLogger() });
  let leading = 0;
  const lines: string[] = [];
  const log = { ...silentLogger(), warn: (_o: unknown, msg?: string) => void lines.push(String(msg)) } as unknown as ReturnType<typeof silentLogger>;
  const e = runForLeadership({ leases, name: 'x', leaseMs: 3000, renewMs: 500, log, onLeading: () => void leading++ });
  t.after(() => e.stop());
  while (leading === 0) await new Promise((r) => setTimeout(r, 10));
  await nc.close();
  const ended = await Promise.race([e.done.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 15_000))]);
  assert.ok(ended, `the candidacy still runs 15 s after its connection closed: ${lines.slice(-3).join(' | ')}`);
  assert.ok(lines.some((l) => /connection closed; the candidacy ends/.test(l)), lines.join(' | '));
});
