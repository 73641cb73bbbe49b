import { test } from 'node:test';
import assert from 'node:assert/strict';
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
