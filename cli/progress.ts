import cliProgress from 'cli-progress';
import { NO_PROGRESS, type Progress } from '../runtime/index.ts';

/**
 * terminalProgress renders blob transfers as one cli-progress bar each on stderr when stderr is a
 * TTY, and is silent otherwise (pipes, CI, logs stay clean).
 */
export function terminalProgress(verb: string): Progress {
  if (!process.stderr.isTTY) return NO_PROGRESS;
  const multi = new cliProgress.MultiBar({
    stream: process.stderr,
    format: `${verb} {label} [{bar}] {percentage}% {value}/{total} bytes {status}`,
    hideCursor: true,
    clearOnComplete: false,
    autopadding: true,
  }, cliProgress.Presets.shades_classic);
  const bars = new Map<string, cliProgress.SingleBar>();
  return {
    start(id, label, total, done) {
      bars.set(id, multi.create(total, done, { label, status: '' }));
    },
    advance(id, bytes) {
      bars.get(id)?.increment(bytes);
    },
    finish(id, status) {
      const bar = bars.get(id);
      if (bar) bar.update({ status });
      else if (status === 'exists') multi.log(`${verb} ${id.slice(7, 19)}: already there\n`);
    },
    stop() {
      multi.stop();
    },
  };
}
