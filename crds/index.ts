// crds/: the JSON Schema of every built-in kind, compiled with ajv. The schemas are plain JSON files
// so editors and other tools can use them too; api/manifests.ts holds the matching types.
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { BuiltinKind } from '../api/index.ts';

/** JsonSchema is a JSON Schema document as plain data. */
export type JsonSchema = Record<string, unknown>;

function readSchema(file: string): JsonSchema {
  return JSON.parse(readFileSync(new URL(file, import.meta.url), 'utf8')) as JsonSchema;
}

/** COMMON_SCHEMA holds the definitions the kinds share (metadata, template, probe, quantity, ...). */
export const COMMON_SCHEMA: JsonSchema = readSchema('./common.schema.json');

/** BUILTIN_SCHEMAS maps each built-in kind to its JSON Schema (draft-07, refs into COMMON_SCHEMA). */
export const BUILTIN_SCHEMAS: Readonly<Record<BuiltinKind, JsonSchema>> = {
  Job: readSchema('./job.schema.json'),
  DaemonSet: readSchema('./daemonset.schema.json'),
  CronJob: readSchema('./cronjob.schema.json'),
  Secret: readSchema('./secret.schema.json'),
  CustomResourceDefinition: readSchema('./customresourcedefinition.schema.json'),
};

/** SchemaValidator checks one object against one kind's schema; `errors` lists every violation. */
export type SchemaValidator = ValidateFunction;

/** SchemaError is one ajv error (verbose: it carries the failing schema and parent schema). */
export type SchemaError = ErrorObject;

/**
 * compileBuiltinSchemas compiles every built-in kind's schema once (allErrors: every problem is
 * reported, verbose: messages can quote allowed values). Compiling costs tens of milliseconds, so
 * callers keep the result.
 */
export function compileBuiltinSchemas(): Readonly<Record<BuiltinKind, SchemaValidator>> {
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });
  ajv.addSchema(COMMON_SCHEMA);
  const out = {} as Record<BuiltinKind, SchemaValidator>;
  for (const [kind, schema] of Object.entries(BUILTIN_SCHEMAS) as Array<[BuiltinKind, JsonSchema]>) {
    out[kind] = ajv.compile(schema);
  }
  return out;
}

/**
 * createUserSchemaCompiler returns an ajv instance for the OpenAPI v3 schemas of
 * CustomResourceDefinitions. It is lenient about keywords (Kubernetes' `x-kubernetes-*`,
 * `nullable`, `example`) because users copy schemas from Kubernetes CRDs.
 */
export function createUserSchemaCompiler(): Ajv {
  return new Ajv({ allErrors: true, verbose: true, strict: false, allowUnionTypes: true, validateFormats: false });
}
