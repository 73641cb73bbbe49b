#!/usr/bin/env node
// `npm run bench -- NAME [args]` runs bench/NAME.bench.ts. Each benchmark prints one JSON object as
// the last line of its output, with the keys its issue names.
import { existsSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { build } from './build.mjs';

const [name, ...rest] = process.argv.slice(2);
const available = readdirSync('bench').filter((f) => f.endsWith('.bench.ts')).map((f) => f.replace('.bench.ts', ''));
if (!name || !existsSync(`bench/${name}.bench.ts`)) {
  console.error(`usage: npm run bench -- NAME [args]\navailable: ${available.join(', ') || '(none yet)'}`);
  process.exit(2);
}
// Benchmarks that start gitcell (cli/bin.js) measure the compiled build of these sources.
try {
  build();
} catch (err) {
  process.stderr.write(`build: ${err.message}; gitcell runs from the TypeScript through tsx\n`);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', `bench/${name}.bench.ts`, ...rest], { stdio: 'inherit' });
process.exit(r.status ?? 1);
