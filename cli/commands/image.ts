import { readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import Table from 'cli-table3';
import { errorMessage, ImageError, UsageError } from '../../lib/errors.ts';
import { parseMemory } from '../../api/quantity.ts';
import {
  ImageStore, collectGarbage, exportOciLayout, importOciLayout, importRootfs,
  isOciLayout, pullImage, pushImage, splitLayoutArg, type Credentials,
} from '../../runtime/index.ts';
import { terminalProgress } from '../progress.ts';
import { addRuntimeRootOption } from '../options.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

interface RootOptions { root: string }
interface AuthOptions { username?: string; passwordStdin?: boolean }

/** runtimeRoot is --root (default <cluster dir>/runtime, see cli/options.ts). */
export function runtimeRoot(opts: RootOptions): string {
  return opts.root;
}

function withRoot(cmd: Command): Command {
  return addRuntimeRootOption(cmd);
}

function withAuth(cmd: Command): Command {
  return cmd
    .option('--username <name>', 'registry user (or GITCELL_REGISTRY_USERNAME)')
    .option('--password-stdin', 'read the registry password or token from stdin (or GITCELL_REGISTRY_PASSWORD)');
}

async function credentials(opts: AuthOptions): Promise<Credentials | undefined> {
  const username = opts.username ?? process.env.GITCELL_REGISTRY_USERNAME;
  let password = process.env.GITCELL_REGISTRY_PASSWORD;
  if (opts.passwordStdin) password = readFileSync(0, 'utf8').replace(/\r?\n$/, '');
  if (username === undefined && password === undefined) return undefined;
  if (!username || password === undefined) throw new UsageError(ErrorCodes.Usage, 'registry credentials need both a username and a password', {});
  return { username, password };
}

function human(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

function positiveInt(value: string, flag: string): number {
  if (!/^[1-9]\d*$/.test(value)) throw new UsageError(ErrorCodes.Usage, `${flag}: "${value}" is not a positive whole number`, { flag });
  return Number(value);
}

/** importCommand makes an image from a root filesystem directory, or copies one from an OCI layout DIR[:TAG]. */
async function importCommand(dir: string, ref: string, opts: RootOptions & { mtime?: string }): Promise<void> {
  const store = new ImageStore(runtimeRoot(opts));
  const asGiven = await stat(dir).catch(() => undefined);
  const layout = asGiven ? { dir } : splitLayoutArg(dir);
  if (!(await stat(layout.dir).catch(() => undefined))?.isDirectory()) {
    throw new ImageError(ErrorCodes.RootfsInvalid, `${layout.dir} is not a directory`, { dir: layout.dir });
  }
  let img;
  if (await isOciLayout(layout.dir)) {
    img = await importOciLayout(store, layout.dir, ref, layout.tag);
  } else {
    let mtime: Date | undefined;
    if (opts.mtime !== undefined) {
      mtime = new Date(opts.mtime);
      if (Number.isNaN(mtime.getTime())) throw new UsageError(ErrorCodes.Usage, `--mtime: "${opts.mtime}" is not a date`, { flag: '--mtime' });
    }
    img = await importRootfs(store, layout.dir, ref, mtime ? { mtime } : {});
  }
  process.stdout.write(`${img.ref} ${img.manifestDigest}\n`);
}

/** listCommand lists the local images (a broken one makes the exit code 1). */
async function listCommand(opts: RootOptions & { json?: boolean }): Promise<void> {
  const list = await new ImageStore(runtimeRoot(opts)).list();
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
    return;
  }
  const table = new Table({ head: ['REFERENCE', 'DIGEST', 'SIZE'], style: { head: [], border: [] } });
  for (const row of list) table.push([row.ref, row.manifestDigest.slice(7, 19), row.error ? `broken: ${row.error}` : human(row.size)]);
  process.stdout.write(`${table.toString()}\n`);
  if (list.some((r) => r.error)) process.exitCode = 1;
}

/**
 * registerImage adds `gitcell image` with import, export, ls, rm, pull, push and gc. Images live
 * in the runtime root (--root). Names without a registry host are local: `busybox` is
 * `localhost/busybox:latest`.
 */
export function registerImage(program: Command): void {
  const image = program.command('image').description('manage container images: import, ls, rm, pull, push, gc');

  withRoot(image.command('import'))
    .description('make an image from a root filesystem directory (one layer), or copy one from an OCI layout DIR[:TAG]')
    .argument('<dir>', 'root filesystem directory, or OCI image layout as DIR or DIR:TAG')
    .argument('<ref>', 'image name, NAME[:TAG]')
    .option('--mtime <iso-date>', 'set every file\'s mtime and the creation time: the same tree gives the same digest')
    .action(importCommand);

  withRoot(image.command('export'))
    .description('write an image into an OCI image layout (readable by umoci and skopeo)')
    .argument('<ref>', 'image')
    .argument('<dir>', 'layout directory, DIR or DIR:TAG (default tag: the image\'s)')
    .action(async (ref: string, dir: string, opts: RootOptions) => {
      const store = new ImageStore(runtimeRoot(opts));
      const target = splitLayoutArg(dir);
      const entry = await exportOciLayout(store, ref, target.dir, target.tag);
      process.stdout.write(`${target.dir}:${entry.annotations?.['org.opencontainers.image.ref.name'] ?? ''} ${entry.digest}\n`);
    });

  withRoot(image.command('ls'))
    .description('list local images')
    .option('--json', 'print JSON instead of a table')
    .action(listCommand);

  withRoot(image.command('rm'))
    .description('remove image references (blobs go with `image gc`)')
    .argument('<refs...>', 'images')
    .action(async (refs: string[], opts: RootOptions) => {
      const store = new ImageStore(runtimeRoot(opts));
      for (const ref of refs) {
        await store.remove(ref);
        process.stdout.write(`removed ${ref}\n`);
      }
    });

  withAuth(withRoot(image.command('pull')))
    .description('download an image from a registry (linux/amd64 from multi-platform images)')
    .argument('<ref>', 'HOST[:PORT]/NAME[:TAG|@DIGEST]')
    .option('--concurrency <n>', 'parallel layer downloads', '3')
    .option('--max-blob-size <quantity>', 'refuse a config or layer declared larger than this (e.g. 2Gi; default 10Gi)')
    .action(async (ref: string, opts: RootOptions & AuthOptions & { concurrency: string; maxBlobSize?: string }) => {
      const creds = await credentials(opts);
      const img = await pullImage(new ImageStore(runtimeRoot(opts)), ref, {
        concurrency: positiveInt(opts.concurrency, '--concurrency'), progress: terminalProgress('pull'), ...(creds ? { credentials: creds } : {}),
        ...(opts.maxBlobSize !== undefined ? { maxBlobBytes: quantityBytes(opts.maxBlobSize, '--max-blob-size') } : {}),
      });
      process.stdout.write(`${img.ref} ${img.manifestDigest}\n`);
    });

  withAuth(withRoot(image.command('push')))
    .description('upload an image to a registry')
    .argument('<ref>', 'HOST[:PORT]/NAME[:TAG]')
    .option('--source <ref>', 'push this local image under <ref> (default: <ref> itself)')
    .option('--mount-from <repository>', 'offer missing blobs as cross-repository mounts from this repository of the same registry')
    .action(async (ref: string, opts: RootOptions & AuthOptions & { source?: string; mountFrom?: string }) => {
      const creds = await credentials(opts);
      const out = await pushImage(new ImageStore(runtimeRoot(opts)), ref, {
        progress: terminalProgress('push'), ...(creds ? { credentials: creds } : {}), ...(opts.source ? { source: opts.source } : {}),
        ...(opts.mountFrom ? { mountFrom: opts.mountFrom } : {}),
      });
      process.stdout.write(`${ref} ${out.digest}\n`);
    });

  withRoot(image.command('gc'))
    .description('remove blobs and snapshots no image or container uses')
    .option('--dry-run', 'only report what would be removed')
    .action(async (opts: RootOptions & { dryRun?: boolean }) => {
      // runtime/gc.ts keeps every ref's and every container's image and their snapshots.
      const result = await collectGarbage({ root: runtimeRoot(opts), ...(opts.dryRun ? { dryRun: true } : {}) });
      const verb = opts.dryRun ? 'would remove' : 'removed';
      process.stdout.write(`${verb} ${result.blobs.removed.length} blobs (${human(result.blobs.freedBytes)}), ${result.snapshotsRemoved.length} snapshots, ${result.blobs.tempFilesRemoved} stale temp files\n`);
    });
}

/** quantityBytes reads a byte quantity flag ("2Gi", "500M", "1048576"); E_USAGE naming the flag. */
export function quantityBytes(v: string, flag: string): number {
  try {
    return parseMemory(/^\d+$/.test(v) ? Number(v) : v);
  } catch (err) {
    throw new UsageError(ErrorCodes.Usage, `${flag}: ${errorMessage(err)}`, { flag, value: v });
  }
}
