import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { errorMessage, isGitcellError } from '../lib/errors.ts';
import { registerCommands } from './commands/index.ts';
import { exitQuietlyOnClosedPipe } from './output.ts';
import { ErrorCodes } from '../lib/error-codes.ts';

/** Exit codes shared by every command: 0 ok, 1 the command ran and found a problem, 2 usage. */
export const EXIT = { ok: 0, problem: 1, usage: 2 } as const;

/** USAGE_HINT follows every usage error instead of the full help (commander adds "Did you mean ...?"). */
export const USAGE_HINT = '(see `gitcell help [command]` for usage)';

/** version is gitcell's version from the package.json above this module (source or compiled build). */
export function version(): string {
  for (let dir = new URL('.', import.meta.url); dir.pathname !== '/'; dir = new URL('..', dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'gitcell' && pkg.version) return pkg.version;
    } catch {
      // not here: look one folder up
    }
  }
  return 'unknown';
}

/** buildProgram assembles the `gitcell` command tree for `argv`; each command lives in cli/commands/. */
export async function buildProgram(argv: string[] = []): Promise<Command> {
  const program = new Command('gitcell')
    .description('GitOps-driven cluster manager: the cluster\'s desired state lives in Git')
    .version(`gitcell ${version()} (node ${process.version})`, '-v, --version', 'print the version')
    .showHelpAfterError(USAGE_HINT)
    .showSuggestionAfterError(true)
    .exitOverride();
  await registerCommands(program, argv);
  return program;
}

/** main runs the CLI and returns the exit code; no stack trace ever reaches the user. */
export async function main(argv: string[]): Promise<number> {
  exitQuietlyOnClosedPipe();
  const program = await buildProgram(argv);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
      return EXIT.usage;
    }
    const code = isGitcellError(err) ? ` [${err.code}]` : '';
    process.stderr.write(`gitcell: ${errorMessage(err)}${code}\n`);
    if (isGitcellError(err, ErrorCodes.Usage)) process.stderr.write(`${USAGE_HINT}\n`);
    if (process.env.GITCELL_DEBUG === '1' && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    // A flag or argument the command cannot use is a usage error, wherever it was found.
    return isGitcellError(err, ErrorCodes.Usage) ? EXIT.usage : EXIT.problem;
  }
}
