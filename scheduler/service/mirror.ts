/**
 * Mirror<T> is the service's in-memory copy of one bucket, fed by its watch and by the service's
 * own successful writes. Each key remembers the last revision seen (deletes too), so a late watch
 * event never rolls a key back past a write the service already made.
 */
import type { WatchEvent } from '../../store/index.ts';

/** MirrorEntry is a key's value (undefined once deleted) and the revision it was seen at. */
export interface MirrorEntry<T> {
  value: T | undefined;
  revision: number;
}

/** Mirror: see the file comment. */
export class Mirror<T> {
  private readonly entries = new Map<string, MirrorEntry<T>>();
  /** synced turns true at the watch's `synced` event: the mirror holds the whole bucket. */
  synced = false;

  /** apply folds a watch event in; returns true when the mirror changed. */
  apply(ev: WatchEvent<T>): boolean {
    if (ev.type === 'synced') {
      this.synced = true;
      return true;
    }
    return this.set(ev.key, ev.type === 'put' ? ev.value : undefined, ev.revision);
  }

  /** set records a value (or a delete, with undefined) at a revision, unless a newer one is known. */
  set(key: string, value: T | undefined, revision: number): boolean {
    const cur = this.entries.get(key);
    if (cur && cur.revision >= revision) return false;
    this.entries.set(key, { value, revision });
    return true;
  }

  /** get returns a live entry (undefined for absent or deleted keys). */
  get(key: string): MirrorEntry<T> | undefined {
    const e = this.entries.get(key);
    return e && e.value !== undefined ? e : undefined;
  }

  /** values returns every live value. */
  values(): T[] {
    const out: T[] = [];
    for (const e of this.entries.values()) if (e.value !== undefined) out.push(e.value);
    return out;
  }

  /** live returns every live key with its entry. */
  live(): Map<string, MirrorEntry<T> & { value: T }> {
    const out = new Map<string, MirrorEntry<T> & { value: T }>();
    for (const [k, e] of this.entries) if (e.value !== undefined) out.set(k, e as MirrorEntry<T> & { value: T });
    return out;
  }
}
