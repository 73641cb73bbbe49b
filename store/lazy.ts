/**
 * Values decoded at their first read, for watches and informers made `lazy` (store/watch.ts,
 * store/informer.ts): a process of hollow nodes follows every task spec of the cluster and runs a
 * part of them; the 500 nodes the scale benchmark kills decoded 112,000 specs to run ~5,600.
 *
 *   delivery ─► LazyRecord (the bytes, copied) ─► LazyEntry in the informer's copy ─► first read: decode
 *                                                  (replaced unread: the older one is decoded then)
 */
import type { InformerEntry } from './informer.ts';

/** LazyRecord is a put's stored bytes, decoded at the first read (WatchOptions `lazy`). */
export class LazyRecord<T> {
  private bytes: Uint8Array | undefined;
  private value: T | undefined;

  constructor(
    bytes: Uint8Array,
    private readonly key: string,
    private readonly revision: number,
    private readonly decode: (bytes: Uint8Array, key: string, revision: number) => T | undefined,
  ) {
    this.bytes = bytes;
  }

  /** read returns the value, decoding it the first time; undefined when it cannot be decoded (reported then, once). */
  read(): T | undefined {
    const bytes = this.bytes;
    if (bytes !== undefined) {
      this.bytes = undefined;
      this.value = this.decode(bytes, this.key, this.revision);
    }
    return this.value;
  }
}

/**
 * LazyEntry is a key's entry whose value is decoded at its first read (the `lazy` option). A record
 * that cannot be decoded reads as the entry it replaced; that one is settled (read) when replaced
 * unread, so at most one older record's bytes are held.
 */
export class LazyEntry<T> implements InformerEntry<T> {
  private record: LazyRecord<T> | undefined;
  private prior: InformerEntry<T> | undefined;
  private held: T | undefined;

  constructor(record: LazyRecord<T>, prior: InformerEntry<T> | undefined, readonly revision: number) {
    this.record = record;
    if (prior instanceof LazyEntry) prior.settle();
    this.prior = prior;
  }

  get value(): T {
    this.settle();
    return this.held as T;
  }

  /** settle decodes the record (once) and lets go of the bytes and the prior entry. */
  private settle(): void {
    const record = this.record;
    if (record === undefined) return;
    const v = record.read();
    this.held = v !== undefined ? v : this.prior?.value;
    this.record = undefined;
    this.prior = undefined;
  }
}

/** LazyChange is a change whose values are read when the listener reads them (the `lazy` option). */
export class LazyChange<T> {
  constructor(
    readonly key: string,
    private readonly prevEntry: InformerEntry<T> | undefined,
    private readonly nextEntry: InformerEntry<T> | undefined,
  ) {}

  get prev(): T | undefined {
    return this.prevEntry?.value;
  }

  get next(): T | undefined {
    return this.nextEntry?.value;
  }
}
