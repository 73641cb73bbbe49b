// A killed agent's nft table, swept by the next agent start once its state directory is gone:
// real nft tables in a namespace the test owns, owner records and DNS directories in a temp dir.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { claimTable, sweepStaleTables } from '../../../agent/index.ts';
import { silentLogger } from '../../../lib/index.ts';
import { listNftTables, NftApplier } from '../../../runtime/index.ts';
import { makeNetLab } from '../../helpers/netlab.ts';
import { requireRoot, requireTools } from '../../helpers/root.ts';

requireRoot();
requireTools('nft', 'ip');

const lab = await makeNetLab('own', '10.251.9.0/24', []);
const root = mkdtempSync(join(tmpdir(), 'gitcell-owners-'));
after(async () => {
  await lab.destroy();
  rmSync(root, { recursive: true, force: true });
});

test('the next start removes the tables and DNS directories of agents whose state directory is gone, and only those', async () => {
  const ownersDir = join(root, 'tables');
  const dnsRunDir = join(root, 'dns');
  const live = join(root, 'live-agent');
  mkdirSync(live);
  const tables = { gone: 'gc_00000000aa', live: 'gc_00000000bb', unrecorded: 'gc_00000000cc', own: 'gc_00000000dd' };
  for (const t of Object.values(tables)) {
    const applier = new NftApplier({ table: t, netns: lab.node });
    await applier.apply({ services: [] });
    applier.close(); // its long-lived `nft -i` would keep this process alive
    mkdirSync(join(dnsRunDir, t), { recursive: true });
  }
  claimTable(tables.gone, join(root, 'killed-agent-state'), ownersDir);
  claimTable(tables.live, live, ownersDir);
  claimTable(tables.own, join(root, 'own-state-not-made-yet'), ownersDir);

  const swept = await sweepStaleTables({ own: tables.own, dnsRunDir, ownersDir, netns: lab.node, log: silentLogger() });
  assert.deepEqual(swept, [tables.gone]);
  const left = await listNftTables(lab.node);
  assert.deepEqual(left.filter((t) => t.startsWith('gc_')).sort(), [tables.live, tables.unrecorded, tables.own].sort());
  assert.equal(existsSync(join(dnsRunDir, tables.gone)), false);
  assert.equal(existsSync(join(ownersDir, tables.gone)), false);
  assert.ok(existsSync(join(dnsRunDir, tables.live)) && existsSync(join(ownersDir, tables.live)));
});
