// The validate phase's last step: the repository's `.gitcell.yaml` defaults (requests and limits of
// tasks that give none) written into the validated objects, so the build, the plan and the desired
// records all carry the values that apply. A bad settings file fails the revision like a bad manifest.
import { isGitcellError } from '../../lib/errors.ts';
import { readRepoSettings, SETTINGS_FILE } from '../git/settings.ts';
import { applyResourceDefaults } from '../template/index.ts';
import type { Located } from './build.ts';
import type { ValidationMessage } from './sync.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** withRepoDefaults reads the settings of `commit` and fills their resource defaults into `validated.objects`. */
export async function withRepoDefaults(
  validated: { objects: Located[]; problems: ValidationMessage[] },
  at: { gitdir: string; commit: string; subPath?: string },
): Promise<{ objects: Located[]; problems: ValidationMessage[] }> {
  try {
    const settings = await readRepoSettings({ gitdir: at.gitdir, commit: at.commit, subPath: at.subPath ?? '' });
    return { objects: applyResourceDefaults(validated.objects, settings.defaults), problems: validated.problems };
  } catch (err) {
    if (!isGitcellError(err, ErrorCodes.BadSettings)) throw err;
    const file = typeof err.data.file === 'string' ? err.data.file : SETTINGS_FILE;
    return { objects: [], problems: [...validated.problems, { file, line: 0, column: 0, code: ErrorCodes.BadSettings, message: err.message }] };
  }
}
