// The store informer against its conformance suite (test/helpers/informer-suite.ts). Every user of
// the contract registers here or in its own test file: the scheduler, the controllers loop, the
// secrets distributor, the reconciler's desired cache and `gitcell up`'s view all build a plain
// store Informer (whole bucket or a prefix), so the first registration covers them.
import { silentLogger } from '../../../lib/index.ts';
import { Informer } from '../../../store/index.ts';
import { informerConformance, type Item } from '../../helpers/informer-suite.ts';

informerConformance('store Informer', (source, o) => {
  const inf = new Informer<Item>(source, { ...o, log: silentLogger() });
  return { view: inf, apply: (key, value, revision) => inf.apply(key, value, revision), done: inf.done };
});

informerConformance('store Informer with a fast restart backoff', (source, o) => {
  const inf = new Informer<Item>(source, { ...o, log: silentLogger(), backoff: { initialMs: 1, maxMs: 20 } });
  return { view: inf, apply: (key, value, revision) => inf.apply(key, value, revision), done: inf.done };
});
