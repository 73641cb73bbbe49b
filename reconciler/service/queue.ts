/**
 * RevisionQueue holds the next revision to reconcile: one slot, latest wins. Commits that arrive
 * while a reconcile runs replace each other, so a burst of ten commits costs at most two
 * reconciles (the one running and the newest), never ten. A retry of a failed attempt goes back in
 * only if nothing newer arrived meanwhile.
 */
export class RevisionQueue {
  #next: string | undefined;
  #waiters: ((rev: string | undefined) => void)[] = [];
  #closed = false;

  /** offer makes `rev` the next revision (replacing any queued one). */
  offer(rev: string): void {
    if (this.#closed) return;
    const w = this.#waiters.shift();
    if (w) w(rev);
    else this.#next = rev;
  }

  /** retry queues `rev` again unless a newer revision is already waiting. */
  retry(rev: string): void {
    if (this.#next === undefined) this.offer(rev);
  }

  /** peek is the queued revision, if any. */
  peek(): string | undefined {
    return this.#next;
  }

  /** take waits for the next revision; undefined once closed. */
  take(): Promise<string | undefined> {
    if (this.#next !== undefined) {
      const rev = this.#next;
      this.#next = undefined;
      return Promise.resolve(rev);
    }
    if (this.#closed) return Promise.resolve(undefined);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** close wakes every waiter with undefined. */
  close(): void {
    this.#closed = true;
    for (const w of this.#waiters.splice(0)) w(undefined);
  }
}
