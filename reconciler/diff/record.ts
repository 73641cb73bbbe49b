import type { AnyObject } from '../../api/index.ts';
import { objectKey } from '../../api/index.ts';
import { hashOf } from '../template/index.ts';

/**
 * DesiredOrigin says who put an object in the `desired` bucket. Only `git` objects belong to the
 * inventory that prune works on; a CronJob's Jobs (`controller`) are its own to clean up.
 */
export type DesiredOrigin = { type: 'git'; revision: string } | { type: 'controller'; owner: string };

/**
 * DesiredRecord is the value of one key of the `desired` bucket (the reconciler is its only writer):
 * the object as applied, its generation (bumped whenever the object changes, as Kubernetes'
 * metadata.generation) and the hash that tells changed from unchanged.
 */
export interface DesiredRecord {
  key: string;
  object: AnyObject;
  generation: number;
  /** specHash is hashOf(object): the diff compares it, never the object, for unchanged objects. */
  specHash: string;
  origin: DesiredOrigin;
  /** revision is the Git revision that last changed this object. */
  revision: string;
  updatedAt: string;
}

/** objectHash is the hash the diff compares: equal objects (key order aside) have equal hashes. */
export function objectHash(object: AnyObject): string {
  return hashOf(object);
}

/**
 * nextDesiredRecord is the record to write for `object` given the previous one (or none): the
 * generation goes up by one only when the object changed, so re-applying is a no-op. `hash`, when
 * given, must be objectHash(object) (the plan computed it already). Pure.
 */
export function nextDesiredRecord(prev: DesiredRecord | undefined, object: AnyObject, origin: DesiredOrigin, now: string, hash?: string): DesiredRecord {
  const specHash = hash ?? objectHash(object);
  if (prev && prev.specHash === specHash && sameOrigin(prev.origin, origin)) return prev;
  const changed = !prev || prev.specHash !== specHash;
  return {
    key: objectKey(object),
    object,
    generation: prev ? prev.generation + (changed ? 1 : 0) : 1,
    specHash,
    origin,
    revision: changed || !prev ? (origin.type === 'git' ? origin.revision : prev?.revision ?? '') : prev.revision,
    updatedAt: changed || !prev ? now : prev.updatedAt,
  };
}

function sameOrigin(a: DesiredOrigin, b: DesiredOrigin): boolean {
  if (a.type !== b.type) return false;
  // A new Git revision that leaves an object unchanged does not rewrite it: the object's revision
  // stays the one that last changed it, which is what `rollout history` and rollback need.
  return a.type === 'git' || (b.type === 'controller' && a.owner === b.owner);
}
