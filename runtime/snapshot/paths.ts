// Pure checks of the names a layer tar carries. Every name is hostile until it passes here; nothing
// in this file touches the file system, so every rule is tested exhaustively without root.

/** EntryPath is a tar name reduced to clean components below the snapshot root ([] is the root). */
export type EntryPath = readonly string[];

/** PathVerdict is the outcome of cleaning one tar name: its components, or why it is refused. */
export type PathVerdict = { ok: true; parts: EntryPath } | { ok: false; reason: string };

/**
 * cleanEntryName reduces a tar entry name to path components inside the root. A leading `/` is
 * contained (dropped, as GNU tar and containerd do: the root *is* `/`), `.` and empty components
 * vanish, and any `..` component is refused outright: legitimate layers never need one, and refusing
 * is simpler to prove safe than clamping. NUL bytes are refused (they would truncate a syscall path).
 */
export function cleanEntryName(name: string): PathVerdict {
  if (name.includes('\0')) return { ok: false, reason: 'name contains a NUL byte' };
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') return { ok: false, reason: 'name contains a ".." component' };
    parts.push(part);
  }
  return { ok: true, parts };
}

/** WHITEOUT_PREFIX marks an OCI whiteout file: `.wh.NAME` deletes NAME of the layers below. */
export const WHITEOUT_PREFIX = '.wh.';
/** OPAQUE_MARKER marks its directory opaque: the layers below contribute nothing inside it. */
export const OPAQUE_MARKER = '.wh..wh..opq';

/** WhiteoutKind says what a cleaned name means for the whiteout rules of the OCI layer spec. */
export type WhiteoutKind =
  | { kind: 'none' }
  | { kind: 'opaque'; dir: EntryPath }
  | { kind: 'whiteout'; target: EntryPath }
  | { kind: 'meta' }
  | { kind: 'invalid'; reason: string };

/**
 * classifyWhiteout tells a plain entry from a whiteout (`dir/.wh.NAME` -> delete dir/NAME), an opaque
 * marker (`dir/.wh..wh..opq`) and other AUFS meta names (`.wh..wh.plnk`, ignored). A whiteout must
 * name exactly one child: `.wh.`, `.wh..` and `.wh...` would delete the directory itself or its
 * parent and are refused.
 */
export function classifyWhiteout(parts: EntryPath): WhiteoutKind {
  const base = parts[parts.length - 1];
  if (base === undefined || !base.startsWith(WHITEOUT_PREFIX)) return { kind: 'none' };
  const parent = parts.slice(0, -1);
  if (base === OPAQUE_MARKER) return { kind: 'opaque', dir: parent };
  if (base.startsWith(WHITEOUT_PREFIX + WHITEOUT_PREFIX)) return { kind: 'meta' };
  const name = base.slice(WHITEOUT_PREFIX.length);
  if (name === '' || name === '.' || name === '..') return { kind: 'invalid', reason: `whiteout "${base}" names no single child` };
  return { kind: 'whiteout', target: [...parent, name] };
}

/** safeMode keeps permission and sticky bits of a tar mode and strips setuid/setgid. */
export function safeMode(mode: number | undefined, fallback: number): number {
  return (mode ?? fallback) & 0o1777;
}
