// Gathers parsed files into one LoadResult: applies the object limit and keeps what `locate` needs.
import { EVENT_ID, parseEvents, type Event } from 'js-yaml';
import { lineStarts, offsetToLineColumn, pathOffset, skipNode } from './positions.ts';
import { parseManifestFile, MAX_YAML_DEPTH, type ParsedFile } from './parse.ts';
import { LoadErrorCode, MANIFEST_LIMITS, type FieldPath, type LoadOptions, type LoadResult, type ManifestSource, type Problem, type SourceLocation } from './types.ts';

/** ManifestCollector accumulates files in the order given and produces the LoadResult. */
export class ManifestCollector {
  readonly #limits: Required<LoadOptions>;
  readonly #result: LoadResult;
  readonly #texts = new Map<string, string>();
  readonly #parsed = new Map<string, { events: Event[]; starts: number[]; docRoots: number[] }>();
  #full = false;

  constructor(options: LoadOptions = {}) {
    this.#limits = { ...MANIFEST_LIMITS, ...options };
    this.#result = { objects: [], problems: [], files: 0, locate: (source, path) => this.#locate(source, path) };
  }

  /** add parses one file's bytes; past the object limit it records one problem and ignores the rest. */
  add(file: string, bytes: Uint8Array): void {
    if (this.#full) return;
    this.addParsed(file, parseManifestFile(file, bytes, this.#limits));
  }

  /** addParsed adds a file parsed earlier (a loader's parse cache: same path, same blob). */
  addParsed(file: string, parsed: ParsedFile): void {
    if (this.#full) return;
    this.#result.files++;
    if (parsed.text !== undefined) this.#texts.set(file, parsed.text);
    this.#result.problems.push(...parsed.problems);
    for (const obj of parsed.objects) {
      if (this.#result.objects.length >= this.#limits.maxObjects) {
        this.#full = true;
        this.#result.problems.push({
          code: LoadErrorCode.tooManyObjects, file, line: obj.source.line, column: obj.source.column, document: obj.source.document,
          message: `more than ${this.#limits.maxObjects} objects: loading stopped here`,
        });
        return;
      }
      this.#result.objects.push(obj);
    }
  }

  /** problem records a problem found outside parsing (e.g. a file that could not be read or is too large to read). */
  problem(p: Problem): void {
    this.#result.problems.push(p);
  }

  /** result returns the LoadResult (objects in file order, then document order). */
  result(): LoadResult {
    return this.#result;
  }

  #locate(source: ManifestSource, path: FieldPath): SourceLocation {
    const fallback = { file: source.file, line: source.line, column: source.column };
    if (path.length === 0) return fallback;
    let p = this.#parsed.get(source.file);
    if (p === undefined) {
      const text = this.#texts.get(source.file);
      if (text === undefined) return fallback;
      try {
        const events = parseEvents(text, { maxDepth: MAX_YAML_DEPTH });
        const docRoots: number[] = [];
        for (let i = 0; i < events.length; ) {
          if (events[i]!.type === EVENT_ID.DOCUMENT) {
            docRoots.push(i + 1);
            i = skipNode(events, i + 1) + 1;
          } else i++;
        }
        p = { events, starts: lineStarts(text), docRoots };
      } catch {
        return fallback;
      }
      this.#parsed.set(source.file, p);
    }
    const root = p.docRoots[source.document];
    if (root === undefined) return fallback;
    const offset = pathOffset(this.#texts.get(source.file)!, p.events, root, path);
    return offset < 0 ? fallback : { file: source.file, ...offsetToLineColumn(p.starts, offset) };
  }
}
