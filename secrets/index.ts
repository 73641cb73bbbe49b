// secrets/: sealing of Secret values. Anyone with the public key seals; only the cluster opens, and
// each node receives only the Secrets of its own tasks, re-sealed to that node's key.
export { sealValue, openValue, parseSealedValue, keyIdOf, scopeLabel, type SealScope, type ParsedSealedValue } from './envelope.ts';
export { Keyring, type KeyType } from './keyring.ts';
export { openSecret, secretVersion, type OpenSecretOptions } from './open.ts';
export { secretsNeededByNode, usesSecrets, planDelivery, nodeSecretKey, type NodeSecretRef, type NodeSecretRecord, type DeliveryPlan } from './delivery.ts';
