import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maxTasks } from '../../../api/index.ts';

test('maxTasks reads `tasks`, and `pods` from records stored before the rename', () => {
  assert.equal(maxTasks({ tasks: 10 }), 10);
  assert.equal(maxTasks({ pods: 110 }), 110, 'an old record still caps its node');
  assert.equal(maxTasks({ tasks: 3, pods: 110 }), 3, 'the new name wins');
  assert.equal(maxTasks({}), undefined);
  assert.equal(maxTasks(undefined), undefined);
});
