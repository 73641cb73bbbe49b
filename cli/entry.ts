// The CLI once its code is loaded: cli/bin.js imports this module from the compiled build
// (dist/<fingerprint>/cli/entry.js) or, when the sources changed since the last build, through tsx.
// `gitcell up` starts its components with this file of the build it runs from.
import { main } from './main.ts';

process.exitCode = await main(process.argv);
