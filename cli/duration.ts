// Durations on the command line (`--timeout 5m`, `--since 10m`), shared by the commands.
import { UsageError } from '../lib/errors.ts';
import { ErrorCodes } from '../lib/error-codes.ts';

/** parseDuration reads "60s", "2m", "500ms" or plain milliseconds; E_USAGE naming the flag otherwise. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new UsageError(ErrorCodes.Usage, `${flag} "${text}": expected a duration like 60s, 2m or 500ms`, { flag });
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 'ms') as 'ms' | 's' | 'm' | 'h'];
  const ms = Math.round(n * unit);
  if (ms < 100) throw new UsageError(ErrorCodes.Usage, `${flag} "${text}" is too short (at least 100ms)`, { flag });
  return ms;
}
