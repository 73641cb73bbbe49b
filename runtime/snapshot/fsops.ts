// The only place gitcell reaches for what Node lacks: mknod(2) and extended attributes. Both run as
// child processes (coreutils `mknod`, `attr`'s setfattr/getfattr). Whiteouts and opaque markers are
// rare, so one process per layer (not per file) is cheap; callers batch paths into one call.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { RuntimeError } from '../../lib/errors.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

const run = promisify(execFile);

/** OPAQUE_XATTR is overlayfs's marker of an opaque directory (lower layers hidden inside it). */
export const OPAQUE_XATTR = 'trusted.overlay.opaque';

async function tool(cmd: string, args: string[], what: string): Promise<string> {
  try {
    const { stdout } = await run(cmd, args, { maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') {
      throw new RuntimeError(ErrorCodes.ToolMissing, `${cmd} is not installed (needed to ${what}); run scripts/bootstrap.sh`, { tool: cmd });
    }
    throw new RuntimeError(ErrorCodes.FsOpFailed, `${cmd} failed to ${what}: ${(e.stderr ?? e.message).trim()}`, { tool: cmd });
  }
}

/**
 * makeWhiteouts creates overlayfs whiteouts (character device 0/0, mode 0) at every absolute path,
 * in one shell process. Callers must have checked that each parent is a real directory inside the
 * snapshot: mknod follows symlinks in parent components.
 */
export async function makeWhiteouts(paths: readonly string[]): Promise<void> {
  if (paths.length === 0) return;
  const script = 'for p in "$@"; do mknod -m 000 -- "$p" c 0 0 || exit 1; done';
  for (const chunk of chunks(paths, 500)) await tool('sh', ['-c', script, 'sh', ...chunk], 'create overlay whiteouts');
}

/** markOpaque sets `trusted.overlay.opaque=y` on every directory (absolute paths), in one process. */
export async function markOpaque(dirs: readonly string[]): Promise<void> {
  if (dirs.length === 0) return;
  for (const chunk of chunks(dirs, 500)) await tool('setfattr', ['-h', '-n', OPAQUE_XATTR, '-v', 'y', '--', ...chunk], 'mark opaque directories');
}

/**
 * listOpaque returns the absolute paths below `root` (root included) whose opaque xattr is `y`, with
 * one `getfattr -R` over the whole tree; symlinks are not followed.
 */
export async function listOpaque(root: string): Promise<string[]> {
  // -d with a name pattern prints only files that carry the attribute and exits 0 otherwise too.
  const out = await tool('getfattr', ['-R', '-P', '--absolute-names', '-d', '-m', '^trusted\\.overlay\\.opaque$', '-e', 'text', '--', root], 'read opaque markers');
  return parseGetfattr(out);
}

/** parseGetfattr reads `getfattr -e text` output into the files whose opaque value is "y". */
export function parseGetfattr(text: string): string[] {
  const found: string[] = [];
  let file: string | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('# file: ')) file = unescapeGetfattr(line.slice('# file: '.length));
    else if (file !== undefined && line === `${OPAQUE_XATTR}="y"`) found.push(file);
  }
  return found;
}

// getfattr escapes unusual bytes in file names as \ooo octal.
function unescapeGetfattr(s: string): string {
  const bytes: number[] = [];
  const raw = Buffer.from(s, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x5c && i + 3 < raw.length && /^[0-7]{3}$/.test(raw.subarray(i + 1, i + 4).toString())) {
      bytes.push(parseInt(raw.subarray(i + 1, i + 4).toString(), 8));
      i += 3;
    } else bytes.push(raw[i]!);
  }
  return Buffer.from(bytes).toString('utf8');
}

// Batches of at most `size` paths and ~128 KiB of arguments, well under the kernel's ARG_MAX.
function* chunks(items: readonly string[], size: number, maxBytes = 128 * 1024): Generator<string[]> {
  let batch: string[] = [];
  let bytes = 0;
  for (const item of items) {
    if (batch.length > 0 && (batch.length >= size || bytes + item.length + 1 > maxBytes)) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(item);
    bytes += Buffer.byteLength(item) + 1;
  }
  if (batch.length > 0) yield batch;
}
