// Test helper: tests wait on conditions, never fixed sleeps; this is the one poll loop they share.

/** WaitOptions tune waitFor; a bare number is timeoutMs. */
export interface WaitOptions {
  /** timeoutMs before giving up (default 90 s: generous for a loaded 2-core machine). */
  timeoutMs?: number;
  /** intervalMs between checks (default 50 ms). */
  intervalMs?: number;
  /** gaveUp names a reason to stop before the timeout (a server process that exited), else undefined. */
  gaveUp?: () => string | undefined;
}

/**
 * waitFor calls `check` until it returns a value other than undefined, null or false, and returns
 * that value; it fails after the timeout naming `what`, the time waited and the check's last error
 * (a check that throws counts as not yet).
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  opts: number | WaitOptions = {},
): Promise<T> {
  const { timeoutMs = 90_000, intervalMs = 50, gaveUp } = typeof opts === 'number' ? { timeoutMs: opts } : opts;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== null && v !== false) return v;
    } catch (err) {
      last = err;
    }
    const reason = gaveUp?.();
    if (reason) throw new Error(`gave up waiting for ${what}: ${reason}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${errorText(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
