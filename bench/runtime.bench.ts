// Runtime benchmark, side by side in one run (`npm run bench -- runtime [--n 100]`):
//  1. start-to-running latency of N sequential containers through gitcell (create: overlay mount,
//     init layer, bundle; start: shim + runc run until the pid file appears) against bare
//     `runc run -d` of a prepared bundle with the same config.json. Runs alternate (gitcell, runc,
//     gitcell, ...) so both see the same machine load. Target (issue 21): gitcell p50 within 1.1x of runc's.
//     Both sides scatter by ~10 ms (sd) around a ~55-ms p50 here, so the ratio of two medians of 50 has a
//     standard error of ~0.04 (+-0.07 at 90%): hence 100 pairs by default and a bootstrap interval over
//     the pairs (start_ratio_ci90) beside it, and the median of the per-pair ratios (each pair shares the load).
//  2. layer unpack of a synthetic image (thousands of files, gzip) through the Snapshotter against
//     `umoci unpack` of the same image exported as an OCI layout. Target: ratio <= 1.
// Last line: one JSON object (start_p50_ms, runc_start_p50_ms, start_ratio_vs_runc, unpack_ratio_vs_umoci, ...).
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { ContainerManager, ImageStore, buildBusyboxRootfs, cgroupDirs, exportOciLayout, importRootfs, removeCgroup } from '../runtime/index.ts';
import { MediaTypes } from '../runtime/image/index.ts';
import { Runc, buildSpec, containerRlimits } from '../runtime/container/index.ts';
import { Snapshotter } from '../runtime/snapshot/index.ts';

const args = process.argv.slice(2);
const N = Number(args[args.indexOf('--n') + 1] ?? 100) || 100;
const BOOTSTRAP_ROUNDS = 2000;
const SKIP_UNPACK = args.includes('--start-only'); // the start comparison alone (its JSON keys only)
const UNPACK_ROUNDS = 3;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
const round = (x: number): number => Math.round(x * 100) / 100;

// 90% interval of p50(ours) / p50(bare) by resampling whole pairs (a pair's two starts share the
// load of their moment). A fixed-seed generator: the same samples give the same interval.
function ratioInterval(ours: number[], bare: number[]): [number, number] {
  let seed = 21;
  const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const ratios: number[] = [];
  for (let r = 0; r < BOOTSTRAP_ROUNDS; r++) {
    const o: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < ours.length; i++) {
      const k = Math.floor(next() * ours.length);
      o.push(ours[k]!);
      b.push(bare[k]!);
    }
    ratios.push(pct(o, 50) / pct(b, 50));
  }
  return [pct(ratios, 5), pct(ratios, 95)];
}

if (process.getuid?.() !== 0) throw new Error('the runtime benchmark needs root (runc, overlayfs)');
const base = fs.mkdtempSync(join(tmpdir(), 'gitcell-bench-runtime-'));
const root = join(base, 'runtime');
const images = new ImageStore(root);
const CGROUP_GROUP = 'gitcell-bench';
const cgroupParent = `${CGROUP_GROUP}/r${process.pid}`;
const manager = new ContainerManager({ root, images, cgroupParent, warmMonitor: process.env.GITCELL_COLD !== '1' });
// Bare runc's --root on the same kind of file system as gitcell's (a tmpfs: runtime/container/state-root.ts),
// so the ratio compares the same state writes (state.json, the exec fifo) on both paths.
const runc = new Runc(join(manager.stateRoot, 'bare-runc'));

async function cleanup(): Promise<void> {
  for (const c of await runc.list().catch(() => [])) await runc.delete(c.id, true).catch(() => undefined);
  fs.rmSync(runc.root, { recursive: true, force: true });
  manager.close(); // the warm monitor's spare goes with its directory
  // The last delete removes the manager's state directory (bare-runc's root was in it: removed above).
  for (const c of manager.list()) await manager.delete(c.id, { force: true }).catch(() => undefined);
  for (const m of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((t): t is string => !!t && t.startsWith(base)).reverse()) {
    try { execFileSync('umount', ['-l', m]); } catch { /* gone */ }
  }
  removeCgroup(`/${cgroupParent}`);
  // The shared parent too, unless another run of this bench still has its group in it.
  for (const d of cgroupDirs(`/${CGROUP_GROUP}`)) {
    try { fs.rmdirSync(d); } catch { /* in use, or gone */ }
  }
  fs.rmSync(base, { recursive: true, force: true });
}

function runBare(bundle: string, id: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(runc.bin, ['--root', runc.root, 'run', '-d', '--bundle', bundle, id], { stdio: 'ignore' });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`runc run -d exited ${code}`))));
  });
}

// Layer unpack through the Snapshotter against `umoci unpack` of the same image as an OCI layout.
async function unpackComparison(): Promise<Record<string, number>> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((r) => pack.on('end', () => r()));
  let files = 0;
  const add = (h: Parameters<typeof pack.entry>[0], body?: Buffer): Promise<void> => new Promise((res, rej) => pack.entry(h, body ?? '', (e) => (e ? rej(e) : res())));
  let seed = 1;
  const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let d = 0; d < 40; d++) {
    await add({ name: `usr/share/d${d}/`, type: 'directory', mode: 0o755 });
    for (let f = 0; f < 100; f++) {
      // mostly small files, like a distribution's /usr: 0.2-16 KiB, compressible text-ish content
      const size = Math.floor(200 + rand() * rand() * 16 * 1024);
      const body = Buffer.alloc(size, `file ${d}/${f} ${rand()} `);
      await add({ name: `usr/share/d${d}/f${f}.txt`, type: 'file', mode: 0o644, size }, body);
      files++;
    }
    await add({ name: `usr/share/d${d}/link`, type: 'symlink', linkname: 'f0.txt' });
  }
  for (let b = 0; b < 4; b++) {
    const size = 4 * 1024 * 1024;
    const body = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4) body.writeUInt32LE((rand() * 2 ** 32) >>> 0, i);
    await add({ name: `usr/lib/big${b}.so`, type: 'file', mode: 0o755, size }, body);
    files++;
  }
  pack.finalize();
  await ended;
  const raw = Buffer.concat(chunks);
  const gz = gzipSync(raw, { level: 6 });
  const desc = await images.content.writeBlob(gz);
  const layer = { descriptor: { ...desc, mediaType: MediaTypes.ociLayerGzip }, diffId: `sha256:${createHash('sha256').update(raw).digest('hex')}` };
  const img = await images.putImage('bench/unpack:1', { addLayers: [layer], config: { Cmd: ['sh'] } });
  const layout = join(base, 'layout');
  await exportOciLayout(images, 'bench/unpack:1', layout, 'v1');

  const oursUnpack: number[] = [];
  const umoci: number[] = [];
  for (let r = 0; r < UNPACK_ROUNDS; r++) {
    const snapRoot = join(base, `unpack-${r}`);
    let t = performance.now();
    await new Snapshotter(snapRoot).prepare(images.content, img.layers.map((l, i) => ({ digest: l.digest, mediaType: l.mediaType, diffId: img.diffIds[i]! })));
    oursUnpack.push(performance.now() - t);
    fs.rmSync(snapRoot, { recursive: true, force: true });

    const out = join(base, `umoci-${r}`);
    t = performance.now();
    execFileSync('umoci', ['unpack', '--image', `${layout}:v1`, out], { stdio: 'ignore' });
    umoci.push(performance.now() - t);
    fs.rmSync(out, { recursive: true, force: true });
  }
  const unpackMs = pct(oursUnpack, 50);
  const umociMs = pct(umoci, 50);
  console.log(`unpack of ${files} files (${round(raw.length / 1e6)} MB, ${round(gz.length / 1e6)} MB gzip): gitcell ${round(unpackMs)} ms, umoci unpack ${round(umociMs)} ms (median of ${UNPACK_ROUNDS})`);

  return {
    unpack_files: files,
    unpack_bytes: raw.length,
    unpack_ms: round(unpackMs),
    umoci_unpack_ms: round(umociMs),
    unpack_mb_per_s: round(raw.length / 1e6 / (unpackMs / 1000)),
    unpack_ratio_vs_umoci: round(unpackMs / umociMs),
  };
}

try {
  // ---- start latency ------------------------------------------------------------------------
  const rfs = join(base, 'busybox');
  fs.mkdirSync(rfs);
  await buildBusyboxRootfs(rfs);
  await importRootfs(images, rfs, 'bench/busybox:1');
  // The bare bundle: the same spec gitcell writes, on a plain directory (no overlay to mount).
  const bundle = join(base, 'bundle');
  fs.mkdirSync(bundle);
  fs.cpSync(rfs, join(bundle, 'rootfs'), { recursive: true, verbatimSymlinks: true });
  fs.mkdirSync(join(bundle, 'rootfs', 'dev'), { recursive: true });
  // The rlimits the manager gives its containers (within this process's own hard limits): the
  // default NOFILE hard limit is above what a non-privileged session may set, and runc fails then.
  const spec = buildSpec({ rootfs: join(bundle, 'rootfs'), args: ['sleep', '1000'], env: ['PATH=/bin'], cwd: '/', uid: 0, gid: 0, hostname: 'bare', cgroupsPath: `/${cgroupParent}/bare`, rlimits: containerRlimits() });
  fs.writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));

  // warm-up: snapshots unpacked, caches warm, for both paths
  const warm = await manager.run({ image: 'bench/busybox:1', command: ['sleep', '1000'] });
  await manager.delete(warm.id, { force: true });
  await runBare(bundle, 'warm');
  await runc.delete('warm', true);

  const ours: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < N; i++) {
    let t = performance.now();
    const c = await manager.create({ image: 'bench/busybox:1', command: ['sleep', '1000'] });
    await manager.start(c.id);
    ours.push(performance.now() - t);
    await manager.delete(c.id, { force: true });

    t = performance.now();
    await runBare(bundle, `bare${i}`);
    bare.push(performance.now() - t);
    await runc.delete(`bare${i}`, true);
  }
  if (process.env.GITCELL_BENCH_SAMPLES) fs.writeFileSync(process.env.GITCELL_BENCH_SAMPLES, JSON.stringify({ ours, bare }));
  const startP50 = pct(ours, 50);
  const runcP50 = pct(bare, 50);
  const [ratioLo, ratioHi] = ratioInterval(ours, bare);
  const pairRatioP50 = pct(ours.map((o, i) => o / bare[i]!), 50);
  console.log(`start latency over ${N} containers: gitcell p50 ${round(startP50)} ms p90 ${round(pct(ours, 90))} ms | runc run -d p50 ${round(runcP50)} ms p90 ${round(pct(bare, 90))} ms`);
  console.log(`start ratio ${round(startP50 / runcP50)} (90% bootstrap interval over the ${N} pairs ${round(ratioLo)}..${round(ratioHi)}; median per-pair ratio ${round(pairRatioP50)})`);

  console.log(JSON.stringify({
    containers: N,
    start_p50_ms: round(startP50),
    start_p90_ms: round(pct(ours, 90)),
    runc_start_p50_ms: round(runcP50),
    runc_start_p90_ms: round(pct(bare, 90)),
    start_ratio_vs_runc: round(startP50 / runcP50),
    start_ratio_ci90_lo: round(ratioLo),
    start_ratio_ci90_hi: round(ratioHi),
    start_pair_ratio_p50: round(pairRatioP50),
    ...(SKIP_UNPACK ? {} : await unpackComparison()),
    loadavg_1m: round(loadavg()[0]!),
  }));
} finally {
  await cleanup();
}
