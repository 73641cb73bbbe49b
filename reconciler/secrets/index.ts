export { runSecretDistributor, type SecretDistributor, type SecretDistributorOptions } from './distributor.ts';
export { checkSealedSecrets } from './check.ts';
