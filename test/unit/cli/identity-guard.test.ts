import { test } from 'node:test';
import assert from 'node:assert/strict';
import { namesNode } from '../../../cli/identity-guard.ts';

test('namesNode: only refusals on the node\'s own subjects are fatal for its agent', () => {
  assert.equal(namesNode('$KV.gitcell_nodes.node-2', 'node-2'), true);
  assert.equal(namesNode('$KV.gitcell_status.node-2.t1', 'node-2'), true);
  assert.equal(namesNode('$JS.API.STREAM.INFO.KV_gitcell_secrets_node-2', 'node-2'), true);
  assert.equal(namesNode('gitcell.logs.node-2.out.t1', 'node-2'), true);
  // An expected refusal (agents may not delete consumers) and another node's subjects are not.
  assert.equal(namesNode('$JS.API.CONSUMER.DELETE.KV_gitcell_tasks.abc', 'node-2'), false);
  assert.equal(namesNode('$KV.gitcell_nodes.node-20', 'node-2'), false);
  assert.equal(namesNode('$JS.API.STREAM.INFO.KV_gitcell_secrets_node-20', 'node-2'), false);
});
