/**
 * processAlive tells whether a process exists (EPERM means it does, owned by someone else). For
 * pid files: pair it with a check of what the pid runs, as pids are reused.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * WATCHDOG_SCRIPT ties a child's life to its parent's: `sh -c WATCHDOG_SCRIPT NAME PIDFILE CMD
 * ARGS...` runs CMD in the background, writes its pid to PIDFILE (/dev/null for none), sends it
 * SIGTERM when its stdin (a pipe from the parent) closes, whatever ended the parent (exit, crash,
 * kill -9), and exits with CMD's status. stdin is kept on fd 3 because an asynchronous list in a
 * non-interactive sh reads /dev/null unless redirected explicitly; CMD itself gets /dev/null.
 */
export const WATCHDOG_SCRIPT = [
  'f="$1"; shift',
  'exec 3<&0',
  '"$@" </dev/null 3<&- &',
  'p=$!',
  'echo "$p" > "$f"',
  '( read _x <&3; kill -TERM "$p" 2>/dev/null ) &',
  'w=$!',
  'exec 3<&-',
  'wait "$p"; rc=$?',
  'kill "$w" 2>/dev/null',
  'exit $rc',
].join('\n');
