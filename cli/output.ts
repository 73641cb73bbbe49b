/**
 * One output flag for every command that prints objects: `-o table|wide|json|yaml|name|jsonpath=EXPR`,
 * as kubectl. A command builds a Listing (its columns, its wide columns, each row's name and its
 * JSON form) and renderListing prints it in the chosen format. Colour only on a terminal, never
 * with NO_COLOR set or TERM=dumb (https://no-color.org), so pipes and CI logs carry no escapes.
 */
import type { Command } from 'commander';
import { dump } from 'js-yaml';
import { UsageError } from '../lib/errors.ts';
import { closest } from '../reconciler/validate/format.ts';
import { jsonpath } from './jsonpath.ts';
import { table } from './table.ts';
import { ErrorCodes } from '../lib/error-codes.ts';

/** OUTPUT_FORMATS are the plain `-o` values; `jsonpath=EXPR` is the one with an argument. */
export const OUTPUT_FORMATS = ['table', 'wide', 'json', 'yaml', 'name'] as const;

/** Output is a parsed `-o` value. */
export type Output = { format: (typeof OUTPUT_FORMATS)[number] } | { format: 'jsonpath'; expr: string };

/** OUTPUT_HELP is the `-o` option's description. */
export const OUTPUT_HELP = 'output format: table, wide, json, yaml, name or jsonpath=TEMPLATE';

/** addOutputOption adds `-o, --output FORMAT` to a command. */
export function addOutputOption(cmd: Command): Command {
  return cmd.option('-o, --output <format>', OUTPUT_HELP);
}

/**
 * parseOutput checks `-o`: one of OUTPUT_FORMATS, `jsonpath=EXPR` (or `jsonpath='EXPR'`), limited
 * to `allowed` for commands that cannot print all of them; E_USAGE naming the closest otherwise.
 */
export function parseOutput(o: string | undefined, allowed: readonly string[] = [...OUTPUT_FORMATS, 'jsonpath']): Output {
  const value = o ?? 'table';
  const jp = /^jsonpath=(.*)$/s.exec(value);
  if (jp && allowed.includes('jsonpath')) return { format: 'jsonpath', expr: jp[1]!.replace(/^'(.*)'$/s, '$1') };
  if ((OUTPUT_FORMATS as readonly string[]).includes(value) && allowed.includes(value)) return { format: value as Output['format'] } as Output;
  const names = allowed.map((a) => (a === 'jsonpath' ? 'jsonpath=TEMPLATE' : a));
  const guess = closest(value.split('=')[0]!, allowed);
  throw new UsageError(ErrorCodes.Usage, `-o ${value}: expected one of ${names.join(', ')}${guess ? ` (did you mean -o ${guess}?)` : ''}`, { flag: '-o' });
}

/** Row is one object of a Listing. */
export interface Row {
  /** `kind/name` (namespaced objects: `kind/name` too, as kubectl) for `-o name` */
  name: string;
  cells: (string | number)[];
  /** extra cells after `cells` with `-o wide` */
  wide?: (string | number)[];
}

/** Listing is what a listing command prints: the columns and rows, and the value `-o json` prints. */
export interface Listing {
  head: string[];
  wideHead?: string[];
  rows: Row[];
  /** the value of `-o json`, `-o yaml` and the root of `-o jsonpath` */
  json: unknown;
}

/** renderListing prints a Listing in `out`'s format (a string ending in a newline, or empty). */
export function renderListing(l: Listing, out: Output): string {
  switch (out.format) {
    case 'table':
      return l.rows.length ? table(l.head, l.rows.map((r) => r.cells)) : '';
    case 'wide':
      return l.rows.length ? table([...l.head, ...(l.wideHead ?? [])], l.rows.map((r) => [...r.cells, ...(r.wide ?? [])])) : '';
    case 'name':
      return l.rows.map((r) => `${r.name}\n`).join('');
    default:
      return renderValue(l.json, out);
  }
}

/** renderValue prints a value as json, yaml or jsonpath (what commands print when they have no table). */
export function renderValue(value: unknown, out: Output): string {
  if (out.format === 'yaml') return dump(value, { noRefs: true, lineWidth: 160 });
  if (out.format === 'jsonpath') {
    const s = jsonpath(out.expr, value);
    return s.endsWith('\n') || s === '' ? s : `${s}\n`;
  }
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** colorEnabled tells whether stdout may carry ANSI colour: a terminal, no NO_COLOR, TERM not dumb. */
export function colorEnabled(stream: { isTTY?: boolean } = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && !env.NO_COLOR && env.TERM !== 'dumb';
}

const CODES = { red: 31, green: 32, yellow: 33, bold: 1, dim: 2 } as const;

/** paint wraps text in an ANSI colour when colorEnabled(), else returns it as is. */
export function paint(text: string, color: keyof typeof CODES, enabled = colorEnabled()): string {
  return enabled ? `\x1b[${CODES[color]}m${text}\x1b[0m` : text;
}

/**
 * exitQuietlyOnClosedPipe makes a closed stdout or stderr (`gitcell describe job web | head -2`)
 * end the process at once with status 0, as the reader asked for no more, instead of an unhandled
 * EPIPE error with a stack trace. Installed once by main() for every command.
 */
export function exitQuietlyOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') process.exit(0);
      throw err;
    });
  }
}
