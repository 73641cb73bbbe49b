// Test helper for warm monitors: find the conmon processes working for a container directory.
import * as fs from 'node:fs';

/** conmonsUnder lists the pids of conmon processes whose command line names `dir` (a container's directory: its log path; or its state directory). */
export function conmonsUnder(dir: string): number[] {
  const out: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    let argv: string[];
    try {
      argv = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // gone
    }
    if (argv[0]?.endsWith('conmon') && argv.some((a) => a.includes(`${dir}/`) || a === dir)) out.push(Number(p));
  }
  return out;
}
