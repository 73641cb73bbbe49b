import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * requireTool fails the test (never skips it) with a clear message when a Debian tool the test
 * runs against is missing; scripts/bootstrap.sh installs all of them.
 */
export async function requireTool(name: string): Promise<void> {
  try {
    await run('sh', ['-c', `command -v ${name} || test -x /usr/sbin/${name}`]);
  } catch {
    throw new Error(`${name} is not installed: run scripts/bootstrap.sh (as root) to install the Debian packages the tests use`);
  }
}
