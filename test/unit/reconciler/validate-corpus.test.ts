// Runs every file of test/fixtures/bad through the loader and the validator and checks that the
// reported problems are exactly the ones its `# expect:` comments list (line, column, field, code,
// message). Each file is validated on its own, so references resolve only within the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { ManifestCollector, formatProblem, validateManifests } from '../../../reconciler/index.ts';

const dir = new URL('../../fixtures/bad/', import.meta.url);
const files = readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f)).sort();
const EXPECT = /^# expect: (\d+):(\d+) (.+?) (E_[A-Z_]+) \/(.*)\/$/;
// Warnings (applied, but said so) are listed as `# warn:` lines in the same form.
const WARN = /^# warn: (\d+):(\d+) (.+?) (E_[A-Z_]+) \/(.*)\/$/;

test('the corpus covers every error class', () => {
  const codes = new Set<string>();
  for (const f of files) for (const line of readFileSync(new URL(f, dir), 'utf8').split('\n')) codes.add(EXPECT.exec(line)?.[4] ?? '');
  for (const code of [
    'E_YAML_SYNTAX', 'E_MANIFEST_NOT_MAPPING', 'E_SCHEMA', 'E_UNKNOWN_KIND', 'E_DUPLICATE_OBJECT', 'E_SECRET_NOT_FOUND',
    'E_SECRET_KEY_NOT_FOUND', 'E_CRON_INVALID', 'E_TIMEZONE_INVALID', 'E_QUANTITY_SYNTAX', 'E_QUANTITY_PRECISION',
    'E_QUANTITY_NEGATIVE', 'E_LIMIT_BELOW_REQUEST', 'E_PLAINTEXT_SECRET', 'E_SEALED_FORMAT', 'E_FIELD_CONFLICT',
    'E_PORT_NOT_FOUND', 'E_CRD_INVALID', 'E_API_VERSION', 'E_ADDRESS_CLAIMED', 'E_UNKNOWN_METRIC',
  ]) assert.ok(codes.has(code), `no fixture expects ${code}`);
  for (const kind of ['Job', 'DaemonSet', 'CronJob', 'Secret', 'Service', 'Receiver', 'SLO', 'CustomResourceDefinition']) {
    assert.ok(files.some((f) => readFileSync(new URL(f, dir), 'utf8').includes(`kind: ${kind}`)), `no fixture of kind ${kind}`);
  }
});

for (const file of files) {
  test(`bad manifests: ${file}`, () => {
    const text = readFileSync(new URL(file, dir), 'utf8');
    const expected = text.split('\n').map((l) => EXPECT.exec(l)).filter((m): m is RegExpExecArray => m !== null);
    assert.ok(expected.length > 0, `${file} has no "# expect:" lines`);
    const collector = new ManifestCollector();
    collector.add(file, Buffer.from(text));
    const { problems, warnings } = validateManifests(collector.result());
    const warned = text.split('\n').map((l) => WARN.exec(l)).filter((m): m is RegExpExecArray => m !== null);
    assert.deepEqual(warnings.map((p) => `${p.line}:${p.column} ${p.path || '-'} ${p.code}`), warned.map((m) => `${m[1]}:${m[2]} ${m[3]} ${m[4]}`), `${file}: warnings differ:\n${warnings.map(formatProblem).join('\n')}`);
    warnings.forEach((w, i) => assert.match(w.message, new RegExp(warned[i]![5]!)));
    const got = problems.map((p) => `${p.line}:${p.column} ${p.path || '-'} ${p.code}`);
    const want = expected.map((m) => `${m[1]}:${m[2]} ${m[3]} ${m[4]}`);
    assert.deepEqual(got, want, `${file}: problems differ; reported:\n${problems.map(formatProblem).join('\n')}`);
    problems.forEach((p, i) => {
      assert.equal(p.file, file);
      assert.match(p.message, new RegExp(expected[i]![5]!), `${file}: message of ${got[i]}`);
    });
  });
}
