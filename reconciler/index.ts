// reconciler/: from a Git revision to desired objects and tasks in the store. Public face.
export * from './template/index.ts';
export * from './diff/index.ts';
export * from './manifests/index.ts';
export * from './validate/index.ts';
export * from './controllers/index.ts';
export * from './apply/index.ts';
export * from './secrets/index.ts';
export * from './source/index.ts';
export * from './git/index.ts';
export * from './service/index.ts';
export * from './plan/index.ts';
export * from './notify/index.ts';
export * from './monitor/index.ts';
