// Maps field paths to source offsets by walking js-yaml's event stream (the AST has no offsets).
import { EVENT_ID, SCALAR_STYLE, getScalarValue, type Event } from 'js-yaml';
import type { FieldPath } from './types.ts';

/** lineStarts returns the offset of every line start of `text`. */
export function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

/** offsetToLineColumn turns a 0-based offset into a 1-based line and column (binary search over `starts`). */
export function offsetToLineColumn(starts: readonly number[], offset: number): { line: number; column: number } {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, column: offset - starts[lo]! + 1 };
}

/** nodeOffset is where a node event starts in the source, or -1 when it has no text (an empty scalar). */
export function nodeOffset(ev: Event): number {
  switch (ev.type) {
    case EVENT_ID.MAPPING:
    case EVENT_ID.SEQUENCE:
      return ev.anchorStart >= 0 ? ev.anchorStart - 1 : ev.tagStart >= 0 ? ev.tagStart : ev.start;
    case EVENT_ID.SCALAR:
      if (ev.anchorStart >= 0) return ev.anchorStart - 1;
      if (ev.tagStart >= 0) return ev.tagStart;
      // A quoted scalar's value starts after its opening quote; point at the quote.
      return ev.valueStart >= 0 && (ev.style === SCALAR_STYLE.SINGLE_QUOTED || ev.style === SCALAR_STYLE.DOUBLE_QUOTED) ? ev.valueStart - 1 : ev.valueStart;
    case EVENT_ID.ALIAS:
      return ev.anchorStart - 1;
    default:
      return -1;
  }
}

/** skipNode returns the index just past the node whose first event is at `i`. */
export function skipNode(events: readonly Event[], i: number): number {
  const t = events[i]?.type;
  if (t !== EVENT_ID.MAPPING && t !== EVENT_ID.SEQUENCE) return i + 1;
  let depth = 0;
  for (let j = i; j < events.length; j++) {
    const e = events[j]!.type;
    if (e === EVENT_ID.MAPPING || e === EVENT_ID.SEQUENCE) depth++;
    else if (e === EVENT_ID.POP && --depth === 0) return j + 1;
  }
  return events.length;
}

/**
 * pathOffset follows `path` from the node at event index `root` and returns the offset of the
 * deepest part found: a mapping member's key, a sequence item's start. Unknown parts (a missing
 * field) stop the walk, so a "required field" problem points at the parent that lacks it.
 */
export function pathOffset(source: string, events: readonly Event[], root: number, path: FieldPath): number {
  let best = nodeOffset(events[root]!);
  let i = root;
  for (const part of path) {
    const ev = events[i];
    if (ev?.type === EVENT_ID.MAPPING) {
      let j = i + 1;
      let found = -1;
      while (j < events.length && events[j]!.type !== EVENT_ID.POP) {
        const keyEv = events[j]!;
        const valueIndex = skipNode(events, j);
        if (keyEv.type === EVENT_ID.SCALAR && getScalarValue(source, keyEv) === String(part)) {
          const keyOffset = nodeOffset(keyEv);
          if (keyOffset >= 0) best = keyOffset;
          found = valueIndex;
          break;
        }
        j = skipNode(events, valueIndex);
      }
      if (found < 0) return best;
      i = found;
    } else if (ev?.type === EVENT_ID.SEQUENCE && typeof part === 'number') {
      let j = i + 1;
      for (let n = 0; n < part && j < events.length && events[j]!.type !== EVENT_ID.POP; n++) j = skipNode(events, j);
      if (j >= events.length || events[j]!.type === EVENT_ID.POP) return best;
      const off = nodeOffset(events[j]!);
      if (off >= 0) best = off;
      i = j;
    } else {
      return best;
    }
  }
  return best;
}
