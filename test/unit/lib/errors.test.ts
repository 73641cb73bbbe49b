import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GitcellError, isGitcellError, errorMessage } from '../../../lib/errors.ts';
import type { ErrorCode } from '../../../lib/error-codes.ts';

// Codes made up for this test, outside the index on purpose.
const E_X = 'E_X' as ErrorCode;
const E_Y = 'E_Y' as ErrorCode;

test('GitcellError carries a stable code and structured data', () => {
  const err = new GitcellError(E_X, 'went wrong', { file: 'a.yaml' });
  assert.equal(err.code, 'E_X');
  assert.deepEqual(err.data, { file: 'a.yaml' });
  assert.ok(isGitcellError(err, E_X));
  assert.ok(!isGitcellError(err, E_Y));
  assert.ok(!isGitcellError(new Error('plain')));
  assert.equal(errorMessage(err), 'went wrong');
  assert.equal(errorMessage('text'), 'text');
});
