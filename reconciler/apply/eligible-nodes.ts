/**
 * EligibleNodeIndex: each DaemonSet's eligible nodes (controllers eligibleNodeNames over the nodes
 * a pass places work on: api trustedNodeRecords, then withNodeSpec), kept between passes and judged
 * again only where something changed. At 10,000 nodes, judging every node for every DaemonSet on
 * every pass (trust, labels, taints, heartbeat) was ~23 of the reconciler's 181 busy CPU-s in a
 * scale run, while a pass sees a handful of node changes.
 *
 *   node record / lease appears or goes / NodeSpec ─► nodeChanged(name) ─┐
 *   snapshot, resync, another grace ───────────────► invalidate ─────────┼─► begin(now, grace):
 *   heartbeat + grace passed (a heap of those times) ────────────────────┤     judge those nodes
 *   node not live at the last look (a renewal may revive it) ────────────┘     again, for every DaemonSet
 *   eligible(DaemonSet, template) ─► its nodes (again over all nodes only when its selector or tolerations change)
 *
 * A verdict splits in two: the template's fit (placementMismatch: labels, taints) changes only
 * with the node's record, its NodeSpec or the template; liveness (nodeIsLive) also with time.
 * Renewals are not told (NodeInformer: 10,000 nodes renew hundreds of times a second), so a live
 * node's heartbeat as last read may be older than its current one; heartbeats only move forward
 * between told changes (a lease's time is the server's; a record whose heartbeat moves back is
 * told), so a node live by the older one is live by the current one too, until the older one's
 * grace passes: then its heartbeat is read again. A node not live is read again every pass. So
 * the result equals the full computation's (test/unit/reconciler/eligible-nodes.test.ts drives
 * random changes and clock steps against it).
 */
import { nodeIsLive, trustedNodeRecords, withNodeSpec, type NodeRecord, type NodeSpec } from '../../api/index.ts';
import { placementMismatch, type EligibleNodes, type PlacementRules } from '../controllers/index.ts';
import { canonicalJson } from '../template/index.ts';

/** EligibleNodeSources are what the index reads: the nodes joined with their leases (live), and each node's NodeSpec. */
export interface EligibleNodeSources {
  nodes: ReadonlyMap<string, NodeRecord>;
  specOf: (name: string) => NodeSpec | undefined;
}

/** Judged is one node as last judged. */
interface Judged {
  /** the node as a pass places work on it; undefined when its record is refused (its body names another node) */
  placed: NodeRecord | undefined;
  /** its heartbeat (ms) as last read */
  beat: number;
  live: boolean;
}

/** Verdicts are one DaemonSet's verdicts, for one set of placement rules. */
interface Verdicts {
  rules: PlacementRules;
  stamp: string;
  /** placed nodes by name: whether the rules admit them (labels, taints) */
  fits: Map<string, boolean>;
  /** the nodes that fit and are live */
  eligible: Set<string>;
  /** eligible as handed out, until it changes */
  view: EligibleNodes | undefined;
  /** the pass that last asked */
  used: number;
}

/** EligibleNodeIndex keeps each DaemonSet's eligible nodes; see the file comment. */
export class EligibleNodeIndex {
  private readonly judged = new Map<string, Judged>();
  private readonly dirty = new Set<string>();
  /** placed nodes not live at the last look */
  private readonly lapsed = new Set<string>();
  /** when each live node's liveness may end (heartbeat + grace), soonest first; stale entries are skipped */
  private readonly expiries = new TimeHeap();
  private readonly verdicts = new Map<string, Verdicts>();
  private stale = true;
  private graceMs = Number.NaN;
  private now = 0;
  private pass = 0;

  constructor(private readonly src: EligibleNodeSources) {}

  /** nodeChanged tells of a change of a node's record (beyond its heartbeat), lease (appearing or going) or NodeSpec. */
  nodeChanged(name: string): void {
    this.dirty.add(name);
  }

  /** invalidate makes the next pass judge every node again (a new snapshot, a resync). */
  invalidate(): void {
    this.stale = true;
  }

  /** begin starts a pass at `now`: every verdict that may have changed since the last pass is brought up to date. */
  begin(now: number, graceMs: number): void {
    this.pass++;
    this.now = now;
    // A DaemonSet no pass asked for since the last one is gone (or its spec failed to resolve).
    for (const [key, v] of this.verdicts) if (v.used < this.pass - 1) this.verdicts.delete(key);
    if (this.stale || graceMs !== this.graceMs) return this.rebuild(graceMs);
    for (const name of this.dirty) this.judge(name);
    this.dirty.clear();
    for (let e = this.expiries.peek(); e && e.at < now; e = this.expiries.peek()) {
      this.expiries.pop();
      const j = this.judged.get(e.name);
      if (j?.live && j.beat + this.graceMs === e.at) this.recheck(e.name, j);
    }
    for (const name of this.lapsed) this.recheck(name, this.judged.get(name)!);
  }

  /** eligible is eligibleNodeNames(placed nodes, rules, now, grace) for DaemonSet `key` at the pass begun last. */
  eligible(key: string, rules: PlacementRules): EligibleNodes {
    let v = this.verdicts.get(key);
    if (!v || (v.rules !== rules && v.stamp !== stampOf(rules))) {
      v = { rules, stamp: stampOf(rules), fits: new Map(), eligible: new Set(), view: undefined, used: this.pass };
      for (const [name, j] of this.judged) if (j.placed) this.fit(v, name, j);
      this.verdicts.set(key, v);
    }
    v.rules = rules;
    v.used = this.pass;
    if (!v.view) {
      const names = [...v.eligible].sort();
      const set = new Set(names);
      v.view = { names, has: (name) => set.has(name) };
    }
    return v.view;
  }

  private rebuild(graceMs: number): void {
    this.stale = false;
    this.graceMs = graceMs;
    this.judged.clear();
    this.dirty.clear();
    this.lapsed.clear();
    this.expiries.clear();
    this.verdicts.clear();
    for (const name of this.src.nodes.keys()) this.judge(name);
  }

  /** judge judges a node from its current record and NodeSpec, for every DaemonSet. */
  private judge(name: string): void {
    const rec = this.src.nodes.get(name);
    const trusted = rec && trustedNodeRecords([[name, rec]]).nodes.get(name);
    this.lapsed.delete(name);
    if (!trusted) {
      this.judged.delete(name);
      for (const v of this.verdicts.values()) {
        v.fits.delete(name);
        if (v.eligible.delete(name)) v.view = undefined;
      }
      return;
    }
    const placed = withNodeSpec(trusted, this.src.specOf(name));
    const j: Judged = { placed, beat: Date.parse(placed.heartbeatAt), live: false };
    this.judged.set(name, j);
    this.setLive(name, j, nodeIsLive(placed, this.now, this.graceMs));
    for (const v of this.verdicts.values()) this.fit(v, name, j);
  }

  /** recheck reads a node's heartbeat again (renewals are not told) and judges its liveness. */
  private recheck(name: string, j: Judged): void {
    const heartbeatAt = this.src.nodes.get(name)?.heartbeatAt ?? '';
    j.beat = Date.parse(heartbeatAt);
    const live = nodeIsLive({ heartbeatAt }, this.now, this.graceMs);
    const flipped = live !== j.live;
    this.setLive(name, j, live);
    if (flipped) for (const v of this.verdicts.values()) this.place(v, name, live && v.fits.get(name) === true);
  }

  private setLive(name: string, j: Judged, live: boolean): void {
    j.live = live;
    if (live) {
      this.lapsed.delete(name);
      this.expiries.push(j.beat + this.graceMs, name);
    } else this.lapsed.add(name);
  }

  private fit(v: Verdicts, name: string, j: Judged): void {
    const fits = placementMismatch(j.placed!, v.rules) === undefined;
    v.fits.set(name, fits);
    this.place(v, name, fits && j.live);
  }

  private place(v: Verdicts, name: string, eligible: boolean): void {
    if (eligible === v.eligible.has(name)) return;
    if (eligible) v.eligible.add(name);
    else v.eligible.delete(name);
    v.view = undefined;
  }
}

function stampOf(rules: PlacementRules): string {
  return canonicalJson({ nodeSelector: rules.nodeSelector, tolerations: rules.tolerations });
}

/** TimeHeap is a binary min-heap of (time, node name). */
class TimeHeap {
  private readonly items: { at: number; name: string }[] = [];

  peek(): { at: number; name: string } | undefined {
    return this.items[0];
  }

  clear(): void {
    this.items.length = 0;
  }

  push(at: number, name: string): void {
    const a = this.items;
    a.push({ at, name });
    for (let i = a.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (a[parent]!.at <= a[i]!.at) break;
      [a[parent], a[i]] = [a[i]!, a[parent]!];
      i = parent;
    }
  }

  pop(): void {
    const a = this.items;
    const last = a.pop();
    if (!last || a.length === 0) return;
    a[0] = last;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && a[l]!.at < a[m]!.at) m = l;
      if (r < a.length && a[r]!.at < a[m]!.at) m = r;
      if (m === i) break;
      [a[m], a[i]] = [a[i]!, a[m]!];
      i = m;
    }
  }
}
