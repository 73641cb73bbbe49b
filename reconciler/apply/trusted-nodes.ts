/**
 * TrustedNodeCache: the nodes a controller pass places work on (api trustedNodeRecords, then
 * withNodeSpec), judged again only for the nodes whose record (lease included) or NodeSpec changed
 * since the last pass. At 10,000 nodes, re-trusting and re-labelling every node per pass cost the
 * reconciler 30 CPU-s over a scale run, while a pass sees a few lease renewals. The rule stays the
 * pure functions: the trust judgement is api NodeTrustCache's (kept per record object), and a node
 * whose trusted record and spec are the very same objects as last time gets last time's
 * withNodeSpec, so the list equals the full recomputation (test/unit/reconciler/trusted-statuses.test.ts).
 */
import { NodeTrustCache, withNodeSpec, type NodeRecord, type NodeSpec } from '../../api/index.ts';

interface Placed {
  trusted: NodeRecord;
  spec: NodeSpec | undefined;
  out: NodeRecord;
}

/** TrustedNodeCache remembers each node's judgement by the identity of its record and NodeSpec. */
export class TrustedNodeCache {
  private readonly trust = new NodeTrustCache();
  private readonly placed = new Map<string, Placed>();

  /**
   * list is `[...trustedNodeRecords(entries).nodes.values()].map((n) => withNodeSpec(n, specOf(n.name)))`,
   * reusing the judgement of every node whose record and spec are the same objects as last call.
   */
  list(entries: Iterable<readonly [string, NodeRecord]>, specOf: (name: string) => NodeSpec | undefined): NodeRecord[] {
    const { nodes } = this.trust.trusted(entries);
    const out: NodeRecord[] = [];
    for (const [name, trusted] of nodes) {
      const spec = specOf(name);
      let p = this.placed.get(name);
      if (!p || p.trusted !== trusted || p.spec !== spec) this.placed.set(name, (p = { trusted, spec, out: withNodeSpec(trusted, spec) }));
      out.push(p.out);
    }
    // Forget the nodes that are gone or refused (only when some are: no walk otherwise).
    if (this.placed.size > nodes.size) for (const name of this.placed.keys()) if (!nodes.has(name)) this.placed.delete(name);
    return out;
  }
}
