/**
 * NodeTrustCache is trustedNodeRecords for a reader that judges the same nodes over and over (a
 * scheduler pass every few hundred ms over 10,000 nodes): each node's judgement is kept while its
 * record is the very same object, so a pass copies only the records that changed since the last
 * (re-trusting every node was 24 CPU-s of the scheduler in a 10,000-node scale run). Results equal
 * trustedNodeRecords' (test/unit/api/node-trust.test.ts).
 */
import { trustedNodeRecords, type RefusedNodeRecord } from './node-trust.ts';
import type { NodeRecord } from './cluster.ts';

interface Judged {
  record: NodeRecord;
  trusted: NodeRecord | undefined;
  refused: RefusedNodeRecord | undefined;
  seen: number;
}

/** NodeTrustCache remembers each node's judgement by its record's identity; see the file comment. */
export class NodeTrustCache {
  private readonly judged = new Map<string, Judged>();
  private calls = 0;

  /** trusted is trustedNodeRecords(entries), judging again only the records not seen last call. */
  trusted(entries: Iterable<readonly [string, NodeRecord]>): { nodes: Map<string, NodeRecord>; refused: RefusedNodeRecord[] } {
    const call = ++this.calls;
    const nodes = new Map<string, NodeRecord>();
    const refused: RefusedNodeRecord[] = [];
    let count = 0;
    for (const [key, record] of entries) {
      count++;
      let j = this.judged.get(key);
      if (!j || j.record !== record) {
        const one = trustedNodeRecords([[key, record]]);
        j = { record, trusted: one.nodes.get(key), refused: one.refused[0], seen: call };
        this.judged.set(key, j);
      }
      j.seen = call;
      if (j.trusted) nodes.set(key, j.trusted);
      if (j.refused) refused.push(j.refused);
    }
    // Forget the nodes that are gone (only when some are: no walk otherwise).
    if (this.judged.size > count) for (const [key, j] of this.judged) if (j.seen !== call) this.judged.delete(key);
    return { nodes, refused };
  }
}
