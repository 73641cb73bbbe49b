import type { Command } from 'commander';
import { readFile, writeFile } from 'node:fs/promises';
import { dump } from 'js-yaml';
import { UsageError } from '../../lib/errors.ts';
import { Keyring, sealValue } from '../../secrets/index.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';
import { addClusterDirOption } from '../options.ts';

/** registerSecret adds `gitcell secret pubkey` and `gitcell secret seal`. */
export function registerSecret(program: Command): void {
  const secret = program.command('secret').description('seal Secret values so only the cluster can read them');

  addClusterDirOption(secret.command('pubkey'), 'directory of the cluster (its sealing keys)')
    .description('print the cluster\'s public sealing key (creates the key pair on first use)')
    .action(async (opts: { clusterDir: string }) => {
      const ring = await Keyring.open(opts.clusterDir);
      process.stdout.write(ring.publicKeyPem());
    });

  addClusterDirOption(secret.command('rotate-key'), 'directory of the cluster (where the reconciler runs)')
    .description('make a new sealing key pair the active one; Secrets sealed with older pairs still open')
    .action(async (opts: { clusterDir: string }) => {
      const ring = await Keyring.open(opts.clusterDir);
      const previous = ring.activeKeyId;
      const id = await ring.rotate();
      process.stdout.write(`active sealing key: ${id} (was ${previous}; ${ring.keyIds().length} pairs kept)\n`);
    });

  secret
    .command('seal')
    .description('write a Secret manifest whose values are sealed with the cluster\'s public key')
    .requiredOption('--cert <file>', 'public key PEM from `gitcell secret pubkey`')
    .requiredOption('--name <name>', 'Secret name')
    .option('--namespace <ns>', 'Secret namespace', 'default')
    .option('--from-literal <key=value>', 'a value given on the command line (repeatable)', collect, [])
    .option('--from-file <key=path>', 'a value read from a file (repeatable)', collect, [])
    .option('-o, --output <file>', 'write the manifest here instead of stdout')
    .action(async (opts: { cert: string; name: string; namespace: string; fromLiteral: string[]; fromFile: string[]; output?: string }) => {
      const pem = await readFile(opts.cert, 'utf8').catch((err: NodeJS.ErrnoException) => {
        throw new UsageError(ErrorCodes.Usage, `--cert ${opts.cert}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
      });
      const values = new Map<string, Buffer>();
      for (const pair of opts.fromLiteral) {
        const [key, value] = splitPair(pair, '--from-literal');
        values.set(key, Buffer.from(value));
      }
      for (const pair of opts.fromFile) {
        const [key, path] = splitPair(pair, '--from-file');
        values.set(key, await readFile(path));
      }
      if (values.size === 0) throw new UsageError(ErrorCodes.Usage, 'give at least one --from-literal or --from-file');
      const encryptedData: Record<string, string> = {};
      for (const [key, value] of [...values].sort(([a], [b]) => a.localeCompare(b))) {
        encryptedData[key] = sealValue(pem, { namespace: opts.namespace, name: opts.name, key }, value);
      }
      const manifest = {
        apiVersion: 'gitcell.io/v1',
        kind: 'Secret',
        metadata: { name: opts.name, namespace: opts.namespace },
        spec: { encryptedData },
      };
      const text = dump(manifest, { lineWidth: -1 });
      if (opts.output) await writeFile(opts.output, text);
      else process.stdout.write(text);
    });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

const KEY_PATTERN = /^[-._a-zA-Z0-9]+$/;

function splitPair(pair: string, flag: string): [string, string] {
  const at = pair.indexOf('=');
  const key = at > 0 ? pair.slice(0, at) : '';
  if (!KEY_PATTERN.test(key)) {
    throw new UsageError(ErrorCodes.Usage, `${flag} ${JSON.stringify(pair)}: expected KEY=VALUE with KEY of letters, digits, '-', '_' or '.'`);
  }
  return [key, pair.slice(at + 1)];
}
