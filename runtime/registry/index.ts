// runtime/registry: pull and push over the OCI distribution API.
export { parseChallenge, basicAuthorization, repositoryScope, tokenRequestUrl, type Credentials, type Challenge } from './auth.ts';
export { RegistryClient, MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, readLimited, type RegistryClientOptions, type RequestOptions } from './client.ts';
export { fetchBlob, fileDigest, checkDeclaredSize, DEFAULT_MAX_BLOB_BYTES, type DownloadOptions } from './download.ts';
export { pullImage, fetchManifest, type PullOptions, type FetchedManifest } from './pull.ts';
export { pushImage, uploadBlob, hasBlob, type PushOptions } from './push.ts';
export { NO_PROGRESS, type Progress } from './progress.ts';
export { parseDockerConfig, mergeAuths, credentialsFor, registryHost, type RegistryAuths } from './docker-config.ts';
export { ensureImage, defaultPullPolicy, parseEndpoint, type PullPolicy, type RegistryMirrors, type EnsureImageOptions, type EnsureResult } from './ensure.ts';
