import { realpath, stat } from 'node:fs/promises';
import * as fs from 'node:fs';
import { join, relative, sep } from 'node:path';
import { Option, type Command } from 'commander';
import git from 'isomorphic-git';
import { isGitcellError } from '../../lib/errors.ts';
import {
  formatProblem,
  loadManifestsFromDir,
  loadManifestsFromGit,
  validateManifests,
  type LoadResult,
  type Problem,
} from '../../reconciler/index.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

interface ValidateFlags {
  ref?: string;
  format: 'text' | 'json';
  allowPlaintextSecrets?: boolean;
}

/**
 * registerValidate adds `gitcell validate [DIR] [--ref REF] [--format text|json]
 * [--allow-plaintext-secrets]`: checks the manifests in DIR as they are on disk (pre-commit use),
 * or with --ref as committed in the repository containing DIR. Exit 0 valid, 1 problems, 2 usage.
 */
export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('check the manifests under DIR (or, with --ref, as committed at REF); one line per problem: FILE:LINE:COL: KIND/NAME: FIELD.PATH: message')
    .argument('[dir]', 'folder of manifests (*.yaml, *.yml, *.json), searched recursively', '.')
    .option('--ref <ref>', 'check this commit (branch, tag, commit id, HEAD) of the repository containing DIR instead of the files on disk')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--allow-plaintext-secrets', 'dev only: accept plaintext Secret data/stringData in Secrets annotated gitcell.io/allow-plaintext: "true"')
    .action(async (dir: string, flags: ValidateFlags, cmd: Command) => {
      const usage = (message: string): never => cmd.error(`gitcell validate: ${message}`, { exitCode: 2, code: 'gitcell.usage' });
      const st = await stat(dir).catch(() => undefined);
      if (!st?.isDirectory()) usage(`${dir} is not a directory`);

      let load: LoadResult;
      let commit: string | undefined;
      if (flags.ref === undefined) {
        load = await loadManifestsFromDir(dir);
      } else {
        const abs = await realpath(dir);
        const root = await git.findRoot({ fs, filepath: abs }).catch(() => undefined);
        if (root === undefined) return usage(`${dir} is not inside a Git repository (needed for --ref)`);
        const path = relative(await realpath(root), abs).split(sep).join('/');
        try {
          const res = await loadManifestsFromGit({ dir: root, ref: flags.ref, path });
          load = res;
          commit = res.commit;
        } catch (err) {
          if (isGitcellError(err, ErrorCodes.GitRefNotFound) || isGitcellError(err, ErrorCodes.GitPathNotFound)) return usage(err.message);
          throw err;
        }
      }

      const result = validateManifests(load, { allowPlaintextSecrets: flags.allowPlaintextSecrets === true });
      // Paths are shown as the user named DIR, so an editor or terminal can open them.
      const shown = (p: Problem): Problem => ({ ...p, file: dir === '.' ? p.file : join(dir, p.file) });
      const problems = result.problems.map(shown);
      const warnings = result.warnings.map(shown);
      if (flags.format === 'json') {
        process.stdout.write(`${JSON.stringify({
          valid: problems.length === 0,
          ...(commit ? { commit } : {}),
          files: load.files,
          objects: load.objects.length,
          problems: problems.map(asJson),
          warnings: warnings.map(asJson),
        }, null, 2)}\n`);
      } else {
        for (const p of problems) process.stdout.write(`${formatProblem(p)}\n`);
        for (const w of warnings) process.stderr.write(`warning: ${formatProblem(w)}\n`);
        const at = commit ? ` at ${commit.slice(0, 12)}` : '';
        process.stderr.write(problems.length === 0
          ? `${dir}${at}: ${load.objects.length} objects in ${load.files} files are valid\n`
          : `${dir}${at}: ${problems.length} problem${problems.length === 1 ? '' : 's'} in ${load.objects.length} objects (${load.files} files)\n`);
      }
      process.exitCode = problems.length === 0 ? 0 : 1;
    });
}

function asJson(p: Problem): Record<string, unknown> {
  return { file: p.file, line: p.line, column: p.column, kind: p.kind ?? null, name: p.name ?? null, path: p.path ?? '', message: p.message, code: p.code, document: p.document ?? null };
}
