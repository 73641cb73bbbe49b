// secrets/: sealing of Secret values. Anyone with the public key seals; only the cluster opens.
export { sealValue, openValue, parseSealedValue, keyIdOf, scopeLabel, type SealScope, type ParsedSealedValue } from './envelope.ts';
export { Keyring } from './keyring.ts';
