// Turns ajv's errors into field paths and messages a person can act on: the allowed values of an
// enum, the expected type, the known fields next to an unknown one, one line per anyOf.
import type { SchemaError } from '../../crds/index.ts';
import type { FieldPath } from '../manifests/index.ts';
import { closest, describeType, quote } from './format.ts';

/** SchemaFinding is one schema violation at a field path. */
export interface SchemaFinding {
  path: FieldPath;
  message: string;
}

/** RefResolver resolves a `$ref` of the schema being reported on, for describing anyOf branches. */
export type RefResolver = (ref: string) => Record<string, unknown> | undefined;

/** explainSchemaErrors maps ajv errors (allErrors + verbose) of one object to findings, collapsing anyOf/oneOf branches into one. */
export function explainSchemaErrors(errors: readonly SchemaError[] | null | undefined, resolve: RefResolver): SchemaFinding[] {
  const kept: Array<{ err: SchemaError; finding: SchemaFinding | undefined }> = [];
  for (const err of errors ?? []) {
    if (err.keyword === 'anyOf' || err.keyword === 'oneOf') {
      // ajv reports each failed branch before the anyOf itself; those are replaced by one line.
      while (kept.length > 0 && isWithin(kept[kept.length - 1]!.err.instancePath, err.instancePath)) kept.pop();
    }
    kept.push({ err, finding: explain(err, resolve) });
  }
  const seen = new Set<string>();
  const out: SchemaFinding[] = [];
  for (const { finding } of kept) {
    if (finding === undefined) continue;
    const key = `${finding.path.join('\0')}\0${finding.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(finding);
  }
  return out;
}

function isWithin(path: string, parent: string): boolean {
  return path === parent || path.startsWith(`${parent}/`);
}

/** pointerToPath turns a JSON pointer into a FieldPath; all-digit segments become indexes. */
export function pointerToPath(pointer: string): FieldPath {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9]\d{0,8})$/.test(s) ? Number(s) : s));
}

function explain(err: SchemaError, resolve: RefResolver): SchemaFinding | undefined {
  const path = [...pointerToPath(err.instancePath)];
  const params = err.params as Record<string, unknown>;
  const parent = (err.parentSchema ?? {}) as Record<string, unknown>;
  const got = `(got ${quote(err.data)})`;
  if (err.propertyName !== undefined) {
    // A bad key of a map (labels, encryptedData): the sub-error is about the key itself.
    const desc = typeof parent.description === 'string' ? parent.description : undefined;
    const why = desc ? `is not ${desc}` : err.keyword === 'maxLength' ? `is longer than ${String(params.limit)} characters` : (err.message ?? 'is not allowed');
    return { path: [...path, err.propertyName], message: `key ${quote(err.propertyName)} ${why}` };
  }
  switch (err.keyword) {
    case 'propertyNames':
    case 'if':
      return undefined; // the sub-errors say what is wrong
    case 'required':
      return { path: [...path, String(params.missingProperty)], message: 'required field is missing' };
    case 'additionalProperties': {
      const field = String(params.additionalProperty);
      const allowed = Object.keys((parent.properties ?? {}) as object);
      const guess = closest(field, allowed);
      return {
        path: [...path, field],
        message: `unknown field${guess ? ` (did you mean ${quote(guess)}?)` : ''}; allowed fields: ${allowed.join(', ') || 'none'}`,
      };
    }
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]) ?? [];
      const guess = typeof err.data === 'string' ? closest(err.data, allowed.filter((v): v is string => typeof v === 'string')) : undefined;
      return { path, message: `must be one of ${allowed.map((v) => quote(v)).join(', ')} ${got}${guess ? `; did you mean ${quote(guess)}?` : ''}` };
    }
    case 'const':
      return { path, message: `must be ${quote(params.allowedValue)} ${got}` };
    case 'type': {
      const types = String(params.type).split(',');
      return { path, message: `expected ${types.join(' or ')}, got ${describeType(err.data)}${typeof err.data === 'object' ? '' : ` ${quote(err.data)}`}` };
    }
    case 'pattern':
    case 'format':
      return { path, message: typeof parent.description === 'string' ? `${quote(err.data)} is not ${parent.description}` : `${quote(err.data)} ${err.message ?? 'is invalid'}` };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { path, message: `must be ${String(params.comparison)} ${String(params.limit)} ${got}` };
    case 'anyOf':
    case 'oneOf': {
      const branches = Array.isArray(err.schema) ? (err.schema as Array<Record<string, unknown>>) : [];
      const descs = branches.map((b) => describeSchema(b, resolve));
      return { path, message: `must be ${descs.join(' or ')} ${got}` };
    }
    case 'false schema':
      return { path, message: 'field is not allowed here' };
    default:
      return { path, message: `${err.message ?? `fails ${err.keyword}`} ${got}` };
  }
}

/** describeSchema says in words what a (small) schema accepts, for anyOf messages. */
export function describeSchema(schema: Record<string, unknown>, resolve: RefResolver, depth = 0): string {
  if (typeof schema.$ref === 'string' && depth < 5) {
    const target = resolve(schema.$ref);
    if (target) return describeSchema(target, resolve, depth + 1);
  }
  if (typeof schema.description === 'string') return schema.description;
  if (Array.isArray(schema.enum)) return `one of ${schema.enum.map((v) => quote(v)).join(', ')}`;
  if ('const' in schema) return quote(schema.const);
  const type = Array.isArray(schema.type) ? schema.type.join(' or ') : typeof schema.type === 'string' ? schema.type : 'a value of another shape';
  const article = /^[aeiou]/.test(type) ? 'an' : 'a';
  const min = typeof schema.minimum === 'number' ? schema.minimum : undefined;
  const max = typeof schema.maximum === 'number' ? schema.maximum : undefined;
  if (min !== undefined && max !== undefined) return `${article} ${type} from ${min} to ${max}`;
  if (min !== undefined) return `${article} ${type} >= ${min}`;
  if (max !== undefined) return `${article} ${type} <= ${max}`;
  if (typeof schema.pattern === 'string') return `${article} ${type} matching ${schema.pattern}`;
  return type === 'a value of another shape' ? type : `${article} ${type}`;
}
