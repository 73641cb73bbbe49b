export { runSecretDistributor, type SecretDistributor, type SecretDistributorOptions } from './distributor.ts';
