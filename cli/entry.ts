// The CLI once its code is loaded: cli/bin.js imports this module from the compiled build
// (dist/<fingerprint>/cli/entry.js) or, when the sources changed since the last build, through tsx.
// `gitcell up` starts its components with this file of the build it runs from.
import { main } from './main.ts';

/** EXIT_GRACE_MS: how long a finished command may still hold the event loop before it is ended. */
const EXIT_GRACE_MS = 3000;

process.exitCode = await main(process.argv);
// The command is done (a component has run its shutdown). Whatever still holds the event loop now
// is a timer, socket or child a shutdown path forgot; it must not keep the process alive (agents
// of a killed `gitcell up` slept on like this for minutes). Name it, so it gets fixed, and exit.
setTimeout(() => {
  const held = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
  process.stderr.write(`gitcell: still running ${EXIT_GRACE_MS / 1000} s after the command finished (holding: ${held.join(', ')}); exiting\n`);
  process.exit();
}, EXIT_GRACE_MS).unref();
