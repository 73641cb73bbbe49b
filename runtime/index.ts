// runtime/: images, snapshots, overlayfs and runc containers. Knows nothing of the control plane.
// Import the runtime only through this file.

// Images (runtime/image, owner: runtime-images).
export * from './image/index.ts';

// Task networking: a netns and an IP per sandbox through CNI (runtime/network, owner: agent).
export * from './network/index.ts';

// Snapshots (runtime/snapshot, owner: runtime-containers): layers unpacked once, shared by containers.
export * from './snapshot/index.ts';

// Containers (runtime/container, owner: runtime-containers): overlay rootfs, OCI bundle, runc, logs.
export * from './container/index.ts';

// Registries (runtime/registry, owner: runtime-images).
export * from './registry/index.ts';

// Garbage collection of blobs and snapshots (runtime/gc.ts, owner: runtime-containers).
export { collectGarbage, type RuntimeGcResult, type RuntimeGcOptions } from './gc.ts';
