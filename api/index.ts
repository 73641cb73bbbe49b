// api/: the resource model every part of gitcell shares. Import it only through this file.
export * from './cluster.ts';
export * from './node-liveness.ts';
export * from './manifests.ts';
export * from './receiver.ts';
export * from './slo.ts';
export * from './quantity.ts';
export * from './node-trust.ts';
export * from './node-trust-cache.ts';
export * from './labels.ts';
export * from './priority.ts';
export * from './autoscale.ts';
export * from './network.ts';
