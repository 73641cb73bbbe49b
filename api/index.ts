// api/: the resource model shared by every part of gitcell.
export * from './cluster.ts';
