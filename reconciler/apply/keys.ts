// Store keys of the reconciler's records. Object keys (`Kind/namespace/name`, see api objectKey)
// become `desired` keys `Kind.namespace.name`; names and kinds never contain dots or slashes, so the
// mapping is reversible.
import { desiredKey } from '../../store/index.ts';

/** desiredStoreKey is the `desired` bucket key of an object key `Kind/namespace/name`. */
export function desiredStoreKey(objectKey: string): string {
  const [kind = '', namespace = '', name = ''] = objectKey.split('/');
  return desiredKey(kind, namespace, name);
}

/** objectKeyOfStoreKey turns a `desired` key back into `Kind/namespace/name`. */
export function objectKeyOfStoreKey(key: string): string {
  return key.split('.').join('/');
}

/** SOURCE_PREFIX starts the `sync` keys of sources: `source.<name>` holds a SyncStatus. */
export const SOURCE_PREFIX = 'source';
/** OBJECT_PREFIX starts the `sync` keys of controller statuses: `object.<Kind>.<namespace>.<name>`. */
export const OBJECT_PREFIX = 'object';

/** sourceStatusKey is the `sync` key of a source's SyncStatus. */
export function sourceStatusKey(source: string): string {
  return `${SOURCE_PREFIX}.${source}`;
}

/** objectStatusKey is the `sync` key of a workload's (or CronJob's) controller status. */
export function objectStatusKey(kind: string, namespace: string, name: string): string {
  return `${OBJECT_PREFIX}.${kind}.${namespace}.${name}`;
}

/** INVENTORY_PREFIX starts the `sync` keys of inventories: `inventory.<source>`. */
export const INVENTORY_PREFIX = 'inventory';

/** inventoryKey is the `sync` key of a source's Inventory. */
export function inventoryKey(source: string): string {
  return `${INVENTORY_PREFIX}.${source}`;
}
