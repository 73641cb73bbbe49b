export { runSecretDistributor, type SecretDistributor, type SecretDistributorOptions } from './distributor.ts';
export { checkSealedSecrets } from './check.ts';
export { syncKeyBackup, KEY_BACKUP_KEY, type BackupStore } from './backup.ts';
