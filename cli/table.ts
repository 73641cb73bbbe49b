// Tables for the CLI's output, in a module of their own: cli/output.ts (loaded by every command,
// `--help` too) needs them, and importing them from cli/client.ts loaded NATS and pino for `--help`.
import Table from 'cli-table3';

/**
 * table renders rows kubectl-style (no borders, columns padded) with cli-table3, so wide values
 * (ids, messages) line up without hand-written padding.
 */
export function table(head: string[], rows: (string | number)[][]): string {
  const t = new Table({
    head,
    chars: { top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '   ' },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
  });
  for (const r of rows) t.push(r.map(String));
  return `${t.toString().split('\n').map((l) => l.trimEnd()).join('\n')}\n`;
}
