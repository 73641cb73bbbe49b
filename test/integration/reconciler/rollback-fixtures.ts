// What the rollback tests (rollback.test.ts, rollback-branch.test.ts) commit and fail: a service Job
// `web` and the failed rollout of one of its revisions.
import type { RolloutResult } from '../../../api/index.ts';

/** web is the manifest of Job default/web running `image`. */
export const web = (image: string): string => `apiVersion: gitcell.io/v1\nkind: Job\nmetadata:\n  name: web\nspec:\n  type: service\n  template:\n    image: ${image}\n`;

/** failed is the failed rollout of `revision` of web (progress deadline, a task failing readiness). */
export const failed = (revision: string): RolloutResult => ({
  revision,
  object: { kind: 'Job', namespace: 'default', name: 'web' },
  generation: 2,
  templateHash: '0123456789abcdef',
  reason: 'ProgressDeadlineExceeded',
  message: 'no progress',
  tasks: [{ id: 'default.web.0-abc', node: 'n1', state: 'running', restarts: 0, lastError: 'readiness probe failed' }],
  failedAt: new Date().toISOString(),
});
