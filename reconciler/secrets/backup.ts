import type { Keyring } from '../../secrets/index.ts';

/** KEY_BACKUP_KEY is where the encrypted key ring backup lives in the reconciler's `sync` bucket. */
export const KEY_BACKUP_KEY = 'keyring.backup';

/** BackupStore is the slice of a store bucket the backup needs. */
export interface BackupStore {
  get(key: string): Promise<{ value: { backup: string } } | undefined>;
  put(key: string, value: { backup: string }): Promise<unknown>;
}

/**
 * syncKeyBackup keeps the cluster's sealing keys safe from the loss of the reconciler's state
 * directory: key pairs found in the store's backup are added to the local ring (so a fresh state
 * directory recovers every key, and the backup's active key stays active), then the union is backed
 * up again, encrypted with the passphrase (scrypt + AES-256-GCM). Never plaintext in the store.
 */
export async function syncKeyBackup(ring: Keyring, store: BackupStore, passphrase: string): Promise<{ restored: number }> {
  const before = ring.keyIds().length;
  const existing = await store.get(KEY_BACKUP_KEY);
  if (existing) await ring.importBackup(existing.value.backup, passphrase);
  await store.put(KEY_BACKUP_KEY, { backup: await ring.exportBackup(passphrase) });
  return { restored: ring.keyIds().length - before };
}
