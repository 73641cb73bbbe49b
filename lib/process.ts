/**
 * processAlive tells whether a process exists (EPERM means it does, owned by someone else). For
 * pid files: pair it with a check of what the pid runs, as pids are reused.
 */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false; // kill(0 or -n, 0) would ask about a process group
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

/**
 * COMPONENT_NODE_FLAGS are the Node.js flags of gitcell's long-running processes (agent, reconciler,
 * scheduler; `gitcell up` and the systemd units start them with these). V8 sizes the young
 * generation for throughput (semi-spaces of up to 16 MiB, ~34 MB of new space once a process has
 * allocated for a while), and a component mostly waits: with 2 MiB semi-spaces an agent with 100
 * tasks kept ~25 MB less resident for a few more, short scavenges. Command-line only: V8 reads the
 * flag when it creates the heap (v8.setFlagsFromString later has no effect).
 */
export const COMPONENT_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];

/**
 * AGENT_NODE_FLAGS are a standalone `gitcell agent`'s Node.js flags (the bench and the systemd unit
 * start it with them): COMPONENT_NODE_FLAGS with 1 MiB semi-spaces and one V8 platform thread
 * instead of four (the agent's heap is small; fewer threads keep fewer stacks and malloc arenas).
 * Measured with `npm run bench -- agent --node-flag ...` (load 31-56): RSS with 100 tasks 78.0 MB
 * (32.5 MB anonymous) against 95.3 MB (49.9 MB) at load 13-21 without them; an idle agent 63 MB
 * against 68.6 MB. And V8's --optimize-for-size (smaller heap growth, earlier shrinking): 67.4 MB
 * (24.1 MB anonymous) against 74.6 MB (31.2 MB), agent CPU for 50 starts 2.68 against 2.94 s (load
 * 17-34). (--lite-mode, without the optimizing compiler: 63.4 MB, but 3.40 CPU-s.)
 */
export const AGENT_NODE_FLAGS: readonly string[] = [...COMPONENT_NODE_FLAGS.filter((f) => !f.startsWith('--max-semi-space-size')), '--max-semi-space-size=1', '--v8-pool-size=1', '--optimize-for-size'];
