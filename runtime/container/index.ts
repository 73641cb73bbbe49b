// runtime/container: OCI bundles, overlay root filesystems, runc lifecycle, logs, commit.
export { waitForFile } from './state-files.ts';
export { ContainerManager, DEFAULT_LOG_LIMITS, type ContainerManagerOptions, type StartHooks, type ContainerInfo, type ContainerRecord, type ContainerStatus, type ExitStatus } from './manager.ts';
export { validateOptions, mergeEnv, NAME_PATTERN, type ContainerOptions } from './options.ts';
export { defaultSpec, buildSpec, toOciMount, DEFAULT_CAPABILITIES, DEFAULT_PATH, DEFAULT_PIDS_LIMIT, CPU_PERIOD_US, type OciSpec, type OciMount, type ContainerSpec, type ExtraMount, type ContainerResources } from './spec.ts';
export { defaultSeccomp, seccompProfile, allowedSyscalls, DENIED_SYSCALLS, ALLOWED_SYSCALLS, CAPABILITY_SYSCALLS, CLONE_NAMESPACE_FLAGS, type LinuxSeccomp, type SeccompArg } from './seccomp.ts';
export { DEFAULT_RLIMITS, parseProcLimits, clampRlimits, containerRlimits, type Rlimit } from './rlimits.ts';
export { applyCapabilities, capName, ADDABLE_CAPABILITIES, ALL_CAPABILITIES } from './capabilities.ts';
export { overlayMount, mountOverlay, unmount, readMounts, isMounted, MAX_MOUNT_OPTIONS, type OverlayPlan, type OverlayInput, type MountEntry } from './mounts.ts';
export { cgroupVersion, cgroupsPathOf, validateCgroupParent, oomEventsFile, parseOomKills, removeCgroup, removeCgroupParent, listCgroups, cgroupDirs, DEFAULT_CGROUP_PARENT, CGROUP_ROOT } from './cgroups.ts';
export { limitCgroupParent, parentLimitFiles, PARENT_CPU_PERIOD_US, type ParentLimits } from './cgroups.ts';
export { Runc, findRunc, type RuncState } from './runc.ts';
export { runcForInit, sealedCopy, PERL } from './sealed-runc.ts';
export { readLogs, readLogFile, logFiles, logFollowers, parseLogLine, rotateLogs, criTime, LineDecoder, LogFollower, CONTAINER_LOG, EXIT_FILES, type LogLine, type LogStream } from './logs.ts';
export { resolveUser, parsePasswd, parseGroup, resolveImageUser, type ResolvedUser } from './user.ts';
export { hostsFile, resolvConf, writeInitLayer, MOUNT_POINTS } from './init.ts';
export { conmonArgv, findConmon, spawnConmon, startUnderConmon, releaseExecFifo, parseSyncMessage, type ConmonArgs, type StartReport } from './conmon.ts';
export { writeBundle, releaseBundle, secretBundleDir, isMemoryBacked, BUNDLE_TMPFS_BYTES } from './bundle.ts';
export { commitContainer, diffUpper, writeDiffTar, COMMIT_EXCLUDED, type DiffEntry, type CommitOptions } from './commit.ts';
