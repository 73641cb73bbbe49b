// The per-container shim: a POSIX shell script, the parent of `runc run` for the container's whole
// life, so the exit status survives the agent (conmon/containerd-shim's job, at a fraction of the
// start cost: a node shim would add ~40 ms to every start, sh + two awk add ~2 ms).
//
//   sh (setsid, detached) ─┬─ runc run --keep ─▶ container ── stdout ─▶ awk ─▶ logs/stdout.log(.1..N)
//                          │                              └─ stderr ─▶ awk ─▶ logs/stderr.log(.1..N)
//                          └─ on exit: exit.json {exitCode, oomKills, finishedAt} (temp + rename)
//
// `--keep` leaves the stopped container (and its cgroup) in place so the OOM counter can be read after
// the exit; ContainerManager.delete() runs `runc delete`. runc writes `pid` (temp + rename) once the
// container's process has been exec'd: its appearance is the "running" signal.
// `awk -W interactive`: Debian's awk is mawk, which otherwise reads a pipe in 4 KiB blocks, so a quiet
// service's lines would not reach its log until it exits (gawk ignores the option with a warning).
import { spawn } from 'node:child_process';
import { LOG_AWK } from './logs.ts';

/** SHIM_SCRIPT is the shim; positional args: runc, runc root, id, container dir, log max bytes, log keep, oom file, bundle dir. */
export const SHIM_SCRIPT = `
set -u
runc=$1 root=$2 id=$3 d=$4 max=$5 keep=$6 oomf=$7 bundle=$8
echo $$ > "$d/shim.pid"
{
  {
    "$runc" --root "$root" run --keep --bundle "$bundle" --pid-file "$d/pid" "$id" </dev/null 2>&1 1>&3 3>&-
    echo $? > "$d/exit.code"
  } | LOGF="$d/logs/stderr.log" awk -W interactive -v max="$max" -v keep="$keep" '${LOG_AWK}' 3>&-
} 3>&1 | LOGF="$d/logs/stdout.log" awk -W interactive -v max="$max" -v keep="$keep" '${LOG_AWK}'
code=$(cat "$d/exit.code" 2>/dev/null) || code=""
case "$code" in ''|*[!0-9]*) code=255 ;; esac
oom=0
if [ -r "$oomf" ]; then oom=$(awk '$1 == "oom_kill" { print $2 }' "$oomf"); fi
case "$oom" in ''|*[!0-9]*) oom=0 ;; esac
printf '{"exitCode":%s,"oomKills":%s,"finishedAt":"%s"}\\n' "$code" "$oom" "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" > "$d/exit.json.tmp" &&
  mv -f "$d/exit.json.tmp" "$d/exit.json"
`;

/** ShimArgs are the shim's inputs. */
export interface ShimArgs {
  runc: string;
  runcRoot: string;
  id: string;
  dir: string;
  logMaxBytes: number;
  logKeep: number;
  oomFile: string;
  /** bundle is the directory holding config.json (the container dir, or its in-memory bundle). */
  bundle: string;
}

/** spawnShim starts the shim in its own session, detached from this process, and returns its pid. */
export function spawnShim(a: ShimArgs): number {
  const child = spawn('sh', ['-c', SHIM_SCRIPT, 'gitcell-shim', a.runc, a.runcRoot, a.id, a.dir, String(a.logMaxBytes), String(a.logKeep), a.oomFile, a.bundle], {
    detached: true,
    stdio: 'ignore',
    cwd: a.dir,
  });
  child.unref();
  return child.pid ?? -1;
}
