// The long-lived `nft -i` session against real nftables in a namespace the test owns: each script
// is one transaction (a refused one changes nothing), its error comes back with it, later scripts
// still run, and closing the session ends nft without writing its line history anywhere.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { NftSession, nftBinary } from '../../../runtime/services/index.ts';
import { runCommand } from '../../../runtime/network/exec.ts';
import { makeNetLab } from '../../helpers/netlab.ts';
import { requireRoot, requireTools } from '../../helpers/root.ts';

requireRoot();
requireTools('nft', 'ip');

const lab = await makeNetLab('nses', '10.251.7.0/24', []);
after(() => lab.destroy());

const list = async () => (await runCommand('ip', ['netns', 'exec', lab.node, nftBinary(), 'list', 'table', 'ip', 'gcsess'])).stdout;

test('one transaction per script: a refused script changes nothing and says why; the session goes on', async () => {
  const historyBefore = existsSync('/root/.nft.history');
  const s = new NftSession(['ip', 'netns', 'exec', lab.node, nftBinary()], 20_000);
  try {
    const made = await s.run('add table ip gcsess\nadd map ip gcsess m { type ipv4_addr : ipv4_addr ; }\nadd element ip gcsess m { 10.0.0.1 : 10.0.0.2 }\n');
    assert.deepEqual(made, { code: 0, stderr: '' });
    // The second command fails (no such element): the first must not be applied either.
    const refused = await s.run('add element ip gcsess m { 10.0.0.3 : 10.0.0.4 }\ndelete element ip gcsess m { 10.0.0.9 }\n');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /No such file or directory/);
    assert.doesNotMatch(await list(), /10\.0\.0\.3/);
    assert.equal((await s.run('add element ip gcsess m { 10.0.0.5 : 10.0.0.6 }\n')).code, 0);
    assert.match(await list(), /10\.0\.0\.5 : 10\.0\.0\.6/);
  } finally {
    s.close();
  }
  await runCommand('ip', ['netns', 'exec', lab.node, nftBinary(), 'delete', 'table', 'ip', 'gcsess']);
  assert.equal(existsSync('/root/.nft.history'), historyBefore, 'nft -i wrote no history into root\'s home');
});
