#!/usr/bin/env node
// Entry point of the `gitcell` command. It runs the compiled JavaScript of the build matching the
// sources (scripts/build.mjs, made by npm's prepare step, bootstrap, the test and benchmark
// runners); when there is none, or the sources changed since, the TypeScript through tsx, so a
// command never runs code older than its sources. GITCELL_FROM_SOURCE=1 forces tsx.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { currentBuild } from '../scripts/build-state.mjs';

const root = join(import.meta.dirname, '..');
const build = process.env.GITCELL_FROM_SOURCE === '1' ? undefined : currentBuild(root);
if (build) {
  await import(pathToFileURL(join(build, 'cli', 'entry.js')).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./entry.ts');
}
