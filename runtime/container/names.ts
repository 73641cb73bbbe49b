// Container names: ROOT/names/<name> is a symlink to the container's id, so claiming a name is one
// atomic symlink(2); a link whose container directory is gone is stale and may be taken over.
import * as fs from 'node:fs';
import { join } from 'node:path';
import { RuntimeError } from '../../lib/errors.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** claimName links `name` to `id` in `namesDir`, or fails with E_CONTAINER_NAME_IN_USE while its owner exists in `containersDir`. */
export function claimName(namesDir: string, containersDir: string, name: string, id: string): void {
  fs.mkdirSync(namesDir, { recursive: true, mode: 0o700 });
  const link = join(namesDir, name);
  try {
    fs.symlinkSync(id, link);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const owner = fs.readlinkSync(link);
    if (fs.existsSync(join(containersDir, owner))) {
      throw new RuntimeError(ErrorCodes.ContainerNameInUse, `the name ${name} is used by container ${owner}`, { name, id: owner });
    }
    fs.rmSync(link, { force: true }); // stale: its container is gone
    fs.symlinkSync(id, link);
  }
}

/** releaseName removes `name`'s link if it still points at `id`. */
export function releaseName(namesDir: string, name: string, id: string): void {
  const link = join(namesDir, name);
  try {
    if (fs.readlinkSync(link) === id) fs.rmSync(link, { force: true });
  } catch {
    // already gone
  }
}
