import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, GitcellError, ImageError, isErrorCode, isGitcellError, StoreError, StoreErrors } from '../../../lib/index.ts';

test('the error index: every code is unique, well formed, and in exactly one family', () => {
  const codes = Object.values(ErrorCodes);
  assert.equal(new Set(codes).size, codes.length, 'no code listed twice');
  for (const c of codes) assert.match(c, /^E_[A-Z0-9_]+$/);
  assert.equal(isErrorCode('E_CONFLICT'), true);
  assert.equal(isErrorCode('E_NOT_IN_THE_INDEX'), false);
  assert.equal(isErrorCode(42), false);
});

test('a family class is a GitcellError with its code, name and cause', () => {
  const cause = new Error('nats said no');
  const err = new StoreError(StoreErrors.Conflict, 'lost the race', { key: 'k' }, { cause });
  assert.ok(err instanceof GitcellError);
  assert.ok(err instanceof StoreError);
  assert.ok(!(err instanceof ImageError));
  assert.equal(err.name, 'StoreError');
  assert.equal(err.code, 'E_CONFLICT');
  assert.deepEqual(err.data, { key: 'k' });
  assert.equal(err.cause, cause);
  assert.ok(isGitcellError(err, ErrorCodes.Conflict));
});

// Code outside the index names a code through ErrorCodes (or a family object), never as a string:
// a typo then fails the typecheck instead of a switch that silently never matches.
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const CODE_DIRS = ['api', 'lib', 'secrets', 'store', 'scheduler', 'reconciler', 'agent', 'runtime', 'crds', 'cli', 'bench', 'scripts', 'test/helpers'];
const INDEX = 'lib/error-codes.ts';

function sourceFilesUnder(rel: string): string[] {
  let entries;
  try {
    entries = readdirSync(join(ROOT, rel), { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => {
    const path = `${rel}/${e.name}`;
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : sourceFilesUnder(path);
    return /\.(ts|mts|mjs|js)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

test('no error code is written as a string literal outside the index (lib/error-codes.ts) and the tests', () => {
  const found: string[] = [];
  for (const file of CODE_DIRS.flatMap(sourceFilesUnder)) {
    if (file === INDEX) continue;
    readFileSync(join(ROOT, file), 'utf8').split('\n').forEach((line, i) => {
      const code = line.trimStart();
      if (code.startsWith('//') || code.startsWith('*') || code.startsWith('/*')) return;
      const m = /(['"`])E_[A-Z0-9_]*/.exec(code.replace(/\s\/\/ .*$/, ''));
      if (m) found.push(`${file}:${i + 1}: ${code.trim()}`);
    });
  }
  assert.deepEqual(found, [], 'write ErrorCodes.Name (add the code to lib/error-codes.ts first if it is new)');
});
