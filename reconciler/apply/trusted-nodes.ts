/**
 * TrustedNodeCache: the nodes a controller pass places work on (api trustedNodeRecords, then
 * withNodeSpec), judged again only for the nodes whose record (lease included) or NodeSpec changed
 * since the last pass. At 10,000 nodes, re-trusting and re-labelling every node per pass cost the
 * reconciler 30 CPU-s over a scale run, while a pass sees a few lease renewals. The rule stays the
 * pure functions: a node whose inputs are the very same objects as last time gets last time's
 * answer, so the list equals the full recomputation (test/unit/reconciler/trusted-statuses.test.ts).
 */
import { trustedNodeRecords, withNodeSpec, type NodeRecord, type NodeSpec } from '../../api/index.ts';

interface Judged {
  record: NodeRecord;
  spec: NodeSpec | undefined;
  /** the node as placed on; undefined: refused (its body names another node) */
  out: NodeRecord | undefined;
  seen: number;
}

/** TrustedNodeCache remembers each node's judgement by the identity of its record and NodeSpec. */
export class TrustedNodeCache {
  private readonly judged = new Map<string, Judged>();
  private passes = 0;

  /**
   * list is `[...trustedNodeRecords(entries).nodes.values()].map((n) => withNodeSpec(n, specOf(n.name)))`,
   * reusing the judgement of every node whose record and spec are the same objects as last call.
   */
  list(entries: Iterable<readonly [string, NodeRecord]>, specOf: (name: string) => NodeSpec | undefined): NodeRecord[] {
    const pass = ++this.passes;
    const out: NodeRecord[] = [];
    let count = 0;
    for (const [key, record] of entries) {
      count++;
      const spec = specOf(key);
      let j = this.judged.get(key);
      if (!j || j.record !== record || j.spec !== spec) {
        const trusted = trustedNodeRecords([[key, record]]).nodes.get(key);
        j = { record, spec, out: trusted && withNodeSpec(trusted, spec), seen: pass };
        this.judged.set(key, j);
      }
      j.seen = pass;
      if (j.out) out.push(j.out);
    }
    // Forget the nodes that are gone (only when some are: no walk otherwise).
    if (this.judged.size > count) for (const [key, j] of this.judged) if (j.seen !== pass) this.judged.delete(key);
    return out;
  }
}
