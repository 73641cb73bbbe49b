import { pino, type Logger, type LoggerOptions } from 'pino';
import { hostedLife } from './component-life.ts';

export type { Logger };

/**
 * createLogger returns gitcell's structured logger: JSON lines by default, human-readable when
 * stderr is a terminal (or GITCELL_LOG_PRETTY=1). Level from GITCELL_LOG_LEVEL (default info).
 * Logs go to stderr so command output on stdout stays machine-readable; a component hosted in
 * `gitcell up`'s process (lib/component-life.ts) logs JSON lines into its own log file.
 */
export function createLogger(name: string, options: LoggerOptions = {}): Logger {
  const fd = hostedLife()?.logFd;
  if (fd !== undefined) return pino({ name, level: process.env.GITCELL_LOG_LEVEL ?? 'info', ...options }, pino.destination({ dest: fd, sync: true }));
  const pretty = process.env.GITCELL_LOG_PRETTY === '1' || (process.env.GITCELL_LOG_PRETTY !== '0' && process.stderr.isTTY);
  const base: LoggerOptions = { name, level: process.env.GITCELL_LOG_LEVEL ?? 'info', ...options };
  if (pretty) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { destination: 2, colorize: true } } });
  }
  return pino(base, pino.destination({ dest: 2, sync: true }));
}

/** silentLogger is for tests and library callers that want no output. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
