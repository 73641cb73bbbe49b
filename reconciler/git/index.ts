// reconciler/git: commits gitcell makes itself (rollback by revert) and what it reads from Git besides manifests.
export { revertCommit, EMPTY_TREE, PUSH_ATTEMPTS, type RevertOptions, type RevertResult } from './revert.ts';
export { revertMessage, revertedCommitOf, GITCELL_AUTHOR, REVERTS_TRAILER, MAX_TASKS_IN_MESSAGE } from './message.ts';
export {
  readRepoSettings,
  parseRepoSettings,
  defaultRepoSettings,
  decideAutoRollback,
  SETTINGS_FILE,
  AUTO_ROLLBACK_ANNOTATION,
  type RepoSettings,
  type RollbackDecision,
} from './settings.ts';
