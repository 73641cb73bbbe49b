// Parses one manifest file into objects. Hostile input is the norm here: every failure becomes a
// Problem naming the file, line and column; nothing thrown by the YAML library escapes.
import { CORE_SCHEMA, EVENT_ID, YAMLException, constructFromEvents, parseEvents, type Event } from 'js-yaml';
import { errorMessage } from '../../lib/errors.ts';
import { lineStarts, nodeOffset, offsetToLineColumn, skipNode } from './positions.ts';
import { LoadErrorCode, MANIFEST_LIMITS, type LoadOptions, type LoadedObject, type Problem } from './types.ts';

/** MAX_YAML_DEPTH bounds collection nesting; real manifests stay under 20 levels. */
export const MAX_YAML_DEPTH = 64;

/** ParsedFile is one file's objects and problems, plus what `locate` needs later. */
export interface ParsedFile {
  objects: LoadedObject[];
  problems: Problem[];
  /** text is the decoded source, kept for locating fields; undefined when the file could not be decoded. */
  text?: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * parseManifestFile decodes `bytes` (strict UTF-8, at most maxFileBytes) and parses every YAML
 * document in it (JSON is YAML). Empty documents are skipped; each other document must be a
 * mapping. Documents fail independently: a duplicate key in one does not hide the others.
 */
export function parseManifestFile(file: string, bytes: Uint8Array, options: LoadOptions = {}): ParsedFile {
  const limits = { ...MANIFEST_LIMITS, ...options };
  const problems: Problem[] = [];
  if (bytes.byteLength > limits.maxFileBytes) {
    problems.push({ code: LoadErrorCode.fileTooLarge, file, line: 1, column: 1, message: `file is ${bytes.byteLength} bytes, over the limit of ${limits.maxFileBytes} (1 MiB): split it` });
    return { objects: [], problems };
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    const { line, column } = offsetToLineColumn(lineStarts(new TextDecoder('utf-8').decode(bytes.subarray(0, at))), at);
    problems.push({ code: LoadErrorCode.encoding, file, line, column, message: `file is not valid UTF-8 (first bad byte at offset ${at})` });
    return { objects: [], problems };
  }
  const starts = lineStarts(text);
  let events: Event[];
  try {
    events = parseEvents(text, { filename: file, maxDepth: MAX_YAML_DEPTH });
  } catch (err) {
    problems.push(yamlProblem(file, err, starts, 0));
    return { objects: [], problems, text };
  }

  // Construct all documents in one call: constructFromEvents costs time in proportion to the whole
  // source on every call, so one call per document is quadratic for files of many small documents.
  // Only when that fails are the documents constructed one by one, to pin the failure on its own.
  let values: unknown[] | undefined;
  try {
    values = constructFromEvents(events, { source: text, filename: file, schema: CORE_SCHEMA });
  } catch {
    values = undefined;
  }

  // Without aliases a document has at most one value per event, and events are bounded by the file
  // size: only files with aliases need the (costly) expanded-size count.
  const hasAliases = events.some((e) => e.type === EVENT_ID.ALIAS);

  const objects: LoadedObject[] = [];
  let document = -1;
  for (let i = 0; i < events.length; ) {
    if (events[i]!.type !== EVENT_ID.DOCUMENT) {
      i++;
      continue;
    }
    document++;
    const docStart = i;
    const root = i + 1;
    const docEnd = Math.min(skipNode(events, root) + 1, events.length); // content node, then the document's POP
    i = docEnd;
    const rootEvent = events[root];
    if (rootEvent === undefined || rootEvent.type === EVENT_ID.POP) continue;
    if (rootEvent.type === EVENT_ID.SCALAR && rootEvent.valueStart < 0 && rootEvent.tagStart < 0 && rootEvent.anchorStart < 0) continue; // empty document
    const offset = Math.max(nodeOffset(rootEvent), 0);
    const where = { file, document, ...offsetToLineColumn(starts, offset) };
    let value: unknown;
    if (values !== undefined) {
      value = values[document];
    } else {
      try {
        value = constructFromEvents(events.slice(docStart, docEnd), { source: text, filename: file, schema: CORE_SCHEMA })[0];
      } catch (err) {
        problems.push(yamlProblem(file, err, starts, offset, document));
        continue;
      }
    }
    if (value === null || value === undefined) continue; // an empty document, e.g. a trailing '---'
    if (typeof value !== 'object' || Array.isArray(value)) {
      problems.push({ code: LoadErrorCode.notMapping, ...where, message: `document ${document} is ${Array.isArray(value) ? 'a list' : `a ${typeof value}`}, not a mapping with apiVersion, kind, metadata and spec` });
      continue;
    }
    if (hasAliases && countNodes(value, limits.maxNodesPerDocument) > limits.maxNodesPerDocument) {
      problems.push({ code: LoadErrorCode.tooComplex, ...where, message: `document ${document} expands to more than ${limits.maxNodesPerDocument} values (aliases?)` });
      continue;
    }
    objects.push({ object: value as Record<string, unknown>, source: where });
  }
  return { objects, problems, text };
}

function yamlProblem(file: string, err: unknown, starts: readonly number[], fallbackOffset: number, document?: number): Problem {
  if (err instanceof YAMLException && err.mark && typeof err.mark.line === 'number' && typeof err.mark.column === 'number') {
    return { code: LoadErrorCode.yaml, file, line: err.mark.line + 1, column: err.mark.column + 1, message: `YAML: ${err.reason}`, ...(document === undefined ? {} : { document }) };
  }
  const reason = err instanceof YAMLException ? err.reason : errorMessage(err);
  return { code: LoadErrorCode.yaml, file, ...offsetToLineColumn(starts, fallbackOffset), message: `YAML: ${reason}`, ...(document === undefined ? {} : { document }) };
}

/** countNodes counts values reachable from `root`, counting shared (aliased) values per reference, stopping past `budget`. Iterative: cycles and depth cannot overflow the stack. */
function countNodes(root: unknown, budget: number): number {
  let count = 0;
  const stack: unknown[] = [root];
  while (stack.length > 0 && count <= budget) {
    const v = stack.pop();
    count++;
    if (v !== null && typeof v === 'object') {
      for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push(child);
    }
  }
  return count;
}

function firstInvalidUtf8(bytes: Uint8Array): number {
  const decodes = (end: number, stream: boolean): boolean => {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, end), { stream });
      return true;
    } catch {
      return false;
    }
  };
  // Longest prefix that decodes when more bytes may follow (monotone, so binary search), then back
  // up over the incomplete sequence it may end with: the bad sequence starts there.
  let lo = 0;
  let hi = bytes.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (decodes(mid, true)) lo = mid;
    else hi = mid - 1;
  }
  for (let k = lo; k >= Math.max(0, lo - 4); k--) if (decodes(k, false)) return k;
  return lo;
}
