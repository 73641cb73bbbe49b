#!/usr/bin/env node
// `npm run bench -- NAME [args]` runs bench/NAME.bench.ts. Each benchmark prints one JSON object as
// the last line of its output, with the keys its issue names.
import { existsSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const [name, ...rest] = process.argv.slice(2);
const available = readdirSync('bench').filter((f) => f.endsWith('.bench.ts')).map((f) => f.replace('.bench.ts', ''));
if (!name || !existsSync(`bench/${name}.bench.ts`)) {
  console.error(`usage: npm run bench -- NAME [args]\navailable: ${available.join(', ') || '(none yet)'}`);
  process.exit(2);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', `bench/${name}.bench.ts`, ...rest], { stdio: 'inherit' });
process.exit(r.status ?? 1);
