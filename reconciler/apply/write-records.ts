// A leader loop's write step, shared by the loops that each alone own a bucket (endpoints:
// `services`; subnet allocator: `subnets`): store what changed, delete what is no longer wanted.
import { isGitcellError } from '../../lib/index.ts';
import { StoreErrorCodes, type Bucket, type Informer } from '../../store/index.ts';

/** WriteRecordsOptions: what a pass wants, how to compare, whether it may still write, and whom to tell of a lost race. */
export interface WriteRecordsOptions<T> {
  bucket: Bucket<T>;
  /** the loop's informer of its own bucket: the revisions each CAS is against */
  own: Informer<T>;
  /** every key the pass wants, with its record; keys absent here are deleted */
  want: ReadonlyMap<string, T>;
  /** whether a stored record already says what the pass wants (no write then) */
  same: (stored: T, wanted: T) => boolean;
  /** checked before every write: the signal is live and this replica still leads */
  may: () => boolean;
  /** a write lost its CAS (a previous leader wrote first): the caller passes again */
  raced: () => void;
}

/**
 * writeRecords stores the records that changed and deletes the keys no longer wanted, each by CAS
 * on the revision the informer holds, applying each own write to it (so a late watch event never
 * undoes it). A lost race calls `raced`: the next pass decides again from what the watch shows.
 */
export async function writeRecords<T>(o: WriteRecordsOptions<T>): Promise<{ written: string[]; deleted: string[] }> {
  const written: string[] = [];
  const deleted: string[] = [];
  const lostRace = (err: unknown) => isGitcellError(err, StoreErrorCodes.Conflict) || isGitcellError(err, StoreErrorCodes.Exists);
  const attempt = async (fn: () => Promise<void>) => {
    if (!o.may()) return;
    try {
      await fn();
    } catch (err) {
      if (!lostRace(err)) throw err;
      o.raced();
    }
  };
  await Promise.all([...o.want].map(([key, rec]) => {
    const cur = o.own.entry(key);
    if (cur && o.same(cur.value, rec)) return undefined;
    return attempt(async () => {
      const revision = cur ? await o.bucket.update(key, rec, cur.revision) : await o.bucket.create(key, rec);
      o.own.apply(key, rec, revision);
      written.push(key);
    });
  }));
  await Promise.all([...o.own.entries].filter(([key]) => !o.want.has(key)).map(([key, cur]) =>
    attempt(async () => {
      o.own.apply(key, undefined, await o.bucket.delete(key, { revision: cur.revision }));
      deleted.push(key);
    })));
  return { written, deleted };
}
