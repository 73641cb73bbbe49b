import { Command } from 'commander';
import { UsageError } from '../../lib/errors.ts';
import { BUILTIN_KINDS } from '../kinds.ts';
import { OUTPUT_FORMATS } from '../output.ts';
import { registerCommands } from './index.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** Completion is what a shell may offer after one command path: its flags and its words. */
interface Completion {
  path: string[];
  description: string;
  flags: { long?: string; short?: string; description: string }[];
  /** subcommands, kinds or fixed values of the first argument */
  words: string[];
}

const KIND_WORDS = BUILTIN_KINDS.flatMap((k) => [k.plural, ...k.shortNames]);
const ARG_WORDS: Record<string, string[]> = {
  get: KIND_WORDS,
  describe: BUILTIN_KINDS.map((k) => k.singular),
  completion: ['bash', 'zsh', 'fish'],
};

function walk(cmd: Command, path: string[], out: Completion[]): void {
  const subs = cmd.commands.filter((c) => !c.name().startsWith('_'));
  out.push({
    path,
    description: cmd.description(),
    flags: cmd.options.map((o) => ({ ...(o.long ? { long: o.long } : {}), ...(o.short ? { short: o.short } : {}), description: o.description })),
    words: subs.length ? subs.map((c) => c.name()) : (ARG_WORDS[path.join(' ')] ?? []),
  });
  for (const c of subs) walk(c, [...path, c.name()], out);
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** bashScript completes command paths, their flags and first words; zsh runs it through bashcompinit. */
function bashScript(tree: Completion[]): string {
  const cases = tree
    .filter((c) => c.path.length)
    .map((c) => `    ${q(c.path.join(' '))}) words=${q(c.words.join(' '))}; flags=${q(c.flags.flatMap((f) => [f.long, f.short]).filter(Boolean).join(' '))} ;;`)
    .join('\n');
  const top = tree.find((c) => c.path.length === 0)!;
  return `# gitcell completion for bash: source <(gitcell completion bash)
_gitcell() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" w words=${q(top.words.join(' '))} flags='--help --version' i
  # The command path: the words before the cursor that are (sub)commands, skipping flags.
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    case "\${path:+$path }$w" in
${cases.replace(/\) words=.*;;/g, ') path="${path:+$path }$w" ;;')}
    esac
  done
  case "$path" in
${cases}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$flags" -- "$cur") )
  elif [[ "$cur" == -o=* || "\${COMP_WORDS[COMP_CWORD-1]}" == -o || "\${COMP_WORDS[COMP_CWORD-1]}" == --output ]]; then
    COMPREPLY=( $(compgen -W ${q(`${OUTPUT_FORMATS.join(' ')} jsonpath=`)} -- "$cur") )
  else
    COMPREPLY=( $(compgen -W "$words" -- "$cur") )
  fi
}
complete -o default -F _gitcell gitcell
`;
}

function zshScript(tree: Completion[]): string {
  return `#compdef gitcell
# gitcell completion for zsh: source <(gitcell completion zsh)  (uses zsh's bash completion layer)
autoload -U +X bashcompinit && bashcompinit
${bashScript(tree)}`;
}

function fishScript(tree: Completion[]): string {
  const lines = ['# gitcell completion for fish: gitcell completion fish | source', 'complete -c gitcell -f'];
  for (const c of tree) {
    // fish has no notion of a command path: the condition names the words seen so far.
    const cond = c.path.length === 0 ? '__fish_use_subcommand' : `__fish_seen_subcommand_from ${c.path.at(-1)}`;
    const sub = tree.filter((x) => x.path.length === c.path.length + 1 && x.path.slice(0, -1).join(' ') === c.path.join(' '));
    for (const s of sub) lines.push(`complete -c gitcell -n ${q(cond)} -a ${q(s.path.at(-1)!)} -d ${q(s.description.slice(0, 80))}`);
    if (!sub.length && c.words.length) lines.push(`complete -c gitcell -n ${q(cond)} -a ${q(c.words.join(' '))}`);
    if (c.path.length === 0) continue;
    for (const f of c.flags) {
      const names = [f.long ? `-l ${f.long.replace(/^--/, '')}` : '', f.short ? `-s ${f.short.replace(/^-/, '')}` : ''].filter(Boolean).join(' ');
      lines.push(`complete -c gitcell -n ${q(cond)} ${names} -d ${q(f.description.slice(0, 80))}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** registerCompletion adds `gitcell completion bash|zsh|fish`: a script to source in the shell. */
export function registerCompletion(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script: bash, zsh or fish')
    .argument('<shell>', 'bash, zsh or fish')
    .addHelpText('after', '\nbash: source <(gitcell completion bash)\nzsh:  source <(gitcell completion zsh)\nfish: gitcell completion fish | source')
    .action(async (shell: string) => {
      const render = { bash: bashScript, zsh: zshScript, fish: fishScript }[shell];
      if (!render) throw new UsageError(ErrorCodes.Usage, `completion ${shell}: expected bash, zsh or fish`, { shell });
      const all = new Command('gitcell');
      await registerCommands(all, [], true);
      const tree: Completion[] = [];
      walk(all, [], tree);
      process.stdout.write(render(tree));
    });
}
