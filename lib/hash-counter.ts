import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { ImageError } from './errors.ts';
import { ErrorCodes } from './error-codes.ts';

/**
 * HashCounter is a pass-through stream that hashes (sha256) and counts what flows through it, and
 * fails as soon as more than `limit` bytes pass (so a lying or endless source cannot fill the disk).
 * `tooLarge` builds that failure; by default E_SIZE_MISMATCH naming `label`.
 */
export class HashCounter extends Transform {
  readonly hash = createHash('sha256');
  bytes = 0;
  constructor(
    private readonly limit = Number.POSITIVE_INFINITY,
    private readonly label = 'blob',
    private readonly tooLarge: (label: string, limit: number) => Error = (l, n) =>
      new ImageError(ErrorCodes.SizeMismatch, `${l}: more than the expected ${n} bytes`, { limit: n }),
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) {
      done(this.tooLarge(this.label, this.limit));
      return;
    }
    this.hash.update(chunk);
    done(null, chunk);
  }
  /** digest is `sha256:<hex>` of everything that passed; call it once, after the end. */
  digest(): string {
    return `sha256:${this.hash.digest('hex')}`;
  }
}
