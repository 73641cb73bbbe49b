// lib/: the few utilities every part of gitcell shares (errors, logging). No domain logic here.
export { GitcellError, isGitcellError, errorMessage } from './errors.ts';
export { createLogger, silentLogger, type Logger } from './log.ts';
