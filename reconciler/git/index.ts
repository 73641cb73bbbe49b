// reconciler/git: commits gitcell makes itself (rollback by revert) and what it reads from Git besides manifests.
export { revertCommit, EMPTY_TREE, PUSH_ATTEMPTS, type RevertOptions, type RevertRemote, type RevertResult } from './revert.ts';
export { revertMessage, revertedCommitOf, GITCELL_AUTHOR, REVERTS_TRAILER, MAX_TASKS_IN_MESSAGE } from './message.ts';
export {
  readRepoSettings,
  parseRepoSettings,
  defaultRepoSettings,
  decideAutoRollback,
  revertBranchOf,
  AUTO_ROLLBACK_BRANCH,
  REVERT_BRANCH_PREFIX,
  ROLLBACK_FLAG_VALUES,
  type AutoRollback,
  type RollbackFlag,
  SETTINGS_FILE,
  AUTO_ROLLBACK_ANNOTATION,
  type RepoSettings,
  type RollbackDecision,
} from './settings.ts';
export {
  verifyRevision,
  verifyCommitSignature,
  prepareTrustStore,
  ensureSigningKey,
  parseVerifyMode,
  stricterMode,
  VERIFY_MODES,
  MAX_VERIFIED_COMMITS,
  CLUSTER_PRINCIPAL,
  type VerifyMode,
  type TrustStore,
  type CommitVerdict,
} from './verify.ts';
export { runGit, gitBinary, DEFAULT_GIT, type GitRun, type GitLimits } from './cli.ts';
export {
  fetchBranch,
  pushCommit,
  initCache,
  isSshUrl,
  redactUrl,
  sshCommand,
  DEFAULT_TRANSPORT_LIMITS,
  type GitAuth,
  type SshAuth,
  type HttpCredentials,
  type TransportLimits,
  type FetchOptions,
  type PushOutcome,
} from './transport.ts';
