// The schemas in crds/ as an editor uses them (yaml-language-server, VS Code): every $ref names a
// file that exists next to it, a fresh ajv resolves all of them offline from crds/gitcell.schema.json
// (which dispatches on kind), every sample-repo manifest validates against it and names it in its
// `# yaml-language-server: $schema=` line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { Ajv } from 'ajv';
import { loadAll } from 'js-yaml';

const CRDS = join(import.meta.dirname, '../../../crds');
const SAMPLE = join(import.meta.dirname, '../../../sample-repo');
const schemaFiles = readdirSync(CRDS).filter((f) => f.endsWith('.schema.json'));

function refsOf(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const v of node) refsOf(v, out);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) if (k === '$ref' && typeof v === 'string') out.push(v); else refsOf(v, out);
  }
  return out;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? yamlFiles(join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [join(dir, e.name)] : []));
}

test('every $ref is local or names a schema file in crds/, and each schema\'s $id is its file name', () => {
  for (const f of schemaFiles) {
    const schema = JSON.parse(readFileSync(join(CRDS, f), 'utf8')) as { $id?: string };
    assert.equal(schema.$id, f, `${f}: $id`);
    for (const ref of refsOf(schema)) {
      const file = ref.split('#')[0]!;
      if (file) assert.ok(existsSync(join(CRDS, file)), `${f}: $ref ${ref} names a file that is not in crds/`);
    }
  }
});

test('ajv resolves every $ref from gitcell.schema.json offline, and it dispatches on kind', () => {
  const ajv = new Ajv({ allErrors: true, strict: false });
  for (const f of schemaFiles) if (f !== 'gitcell.schema.json') ajv.addSchema(JSON.parse(readFileSync(join(CRDS, f), 'utf8')) as object);
  const validate = ajv.compile(JSON.parse(readFileSync(join(CRDS, 'gitcell.schema.json'), 'utf8')) as object);
  const job = { apiVersion: 'gitcell.io/v1', kind: 'Job', metadata: { name: 'web' }, spec: { owner: 't', type: 'service', replicas: 'three', template: { image: 'x' } } };
  assert.equal(validate(job), false);
  assert.ok(validate.errors!.some((e) => e.instancePath === '/spec/replicas'), JSON.stringify(validate.errors));
  assert.equal(validate({ ...job, spec: { ...job.spec, replicas: 3 } }), true, JSON.stringify(validate.errors));
  // A kind gitcell does not know is left to `gitcell validate` (a CRD may define it).
  assert.equal(validate({ apiVersion: 'example.com/v1', kind: 'Database', metadata: { name: 'db' }, spec: { anything: 1 } }), true);
  let documents = 0;
  for (const file of yamlFiles(SAMPLE)) {
    const text = readFileSync(file, 'utf8');
    const line = /^# yaml-language-server: \$schema=(\S+)$/m.exec(text);
    assert.ok(line, `${relative(SAMPLE, file)}: a modeline names the schema`);
    assert.equal(join(dirname(file), line[1]!), join(CRDS, 'gitcell.schema.json'), `${relative(SAMPLE, file)}: the schema path resolves`);
    for (const doc of loadAll(text)) {
      if (!doc) continue;
      documents++;
      assert.ok(validate(doc), `${relative(SAMPLE, file)}: ${JSON.stringify(validate.errors)}`);
    }
  }
  assert.ok(documents >= 7, `${documents} sample documents`);
});

test('the fields editors show most carry descriptions', () => {
  const common = JSON.parse(readFileSync(join(CRDS, 'common.schema.json'), 'utf8')) as { definitions: Record<string, { properties: Record<string, { description?: string }> }> };
  for (const def of ['template', 'probe', 'metadata', 'resources']) {
    for (const [k, v] of Object.entries(common.definitions[def]!.properties)) assert.ok(v.description, `common ${def}.${k} has a description`);
  }
  for (const f of ['job', 'cronjob', 'daemonset']) {
    const s = JSON.parse(readFileSync(join(CRDS, `${f}.schema.json`), 'utf8')) as { properties: { spec: { properties: Record<string, { description?: string }> } } };
    for (const [k, v] of Object.entries(s.properties.spec.properties)) assert.ok(v.description, `${f} spec.${k} has a description`);
  }
});

/** undescribed lists every property below `node` without a description (a $ref inherits its target's). */
function undescribed(node: unknown, path: string, out: string[]): string[] {
  if (!node || typeof node !== 'object') return out;
  const o = node as Record<string, unknown>;
  for (const [k, v] of Object.entries((o.properties ?? {}) as Record<string, Record<string, unknown>>)) {
    if (!v.description && !v.$ref) out.push(`${path}.${k}`);
    undescribed(v, `${path}.${k}`, out);
  }
  for (const key of ['items', 'additionalProperties']) undescribed(o[key], `${path}[]`, out);
  for (const key of ['oneOf', 'anyOf', 'allOf']) for (const branch of (o[key] ?? []) as unknown[]) undescribed(branch, path, out);
  for (const [k, v] of Object.entries((o.definitions ?? {}) as Record<string, unknown>)) undescribed(v, `#${k}`, out);
  return out;
}

test('every property of every schema carries a description (what an editor shows on hover)', () => {
  const missing: string[] = [];
  for (const f of readdirSync(CRDS).filter((n) => n.endsWith('.schema.json'))) {
    undescribed(JSON.parse(readFileSync(join(CRDS, f), 'utf8')), f, missing);
  }
  assert.deepEqual(missing, []);
});
