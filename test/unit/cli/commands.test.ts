// The top-level help lists every command without loading it (cli/commands/index.ts): its lines
// must be the ones commander writes for the real commands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command, Help } from 'commander';
import { COMMANDS, registerCommands } from '../../../cli/commands/index.ts';

test('COMMANDS: each term and summary is what the real command shows in the top-level help', async () => {
  const real = new Command('gitcell');
  await registerCommands(real, [], true);
  const help = new Help();
  assert.deepEqual(
    Object.fromEntries(real.commands.map((c) => [c.name(), { term: help.subcommandTerm(c), summary: help.subcommandDescription(c) }])),
    Object.fromEntries(Object.entries(COMMANDS).map(([n, c]) => [n, { term: c.term, summary: c.summary }])),
  );
});

test('registerCommands: the top-level help from the table equals the one of the real commands', async () => {
  const real = new Command('gitcell');
  await registerCommands(real, [], true);
  const listed = new Command('gitcell');
  await registerCommands(listed, ['node', 'gitcell', '--help']);
  assert.equal(listed.helpInformation(), real.helpInformation());
  assert.ok(listed.commands.every((c) => c.commands.length === 0 && c.options.length === 0), 'nothing loaded for the listing');
});

test('registerCommands: a named command, or `help NAME`, registers that real command alone', async () => {
  for (const argv of [['node', 'gitcell', 'get', 'tasks'], ['node', 'gitcell', 'help', 'get']]) {
    const p = new Command('gitcell');
    await registerCommands(p, argv);
    assert.deepEqual(p.commands.map((c) => c.name()), ['get']);
    assert.ok(p.commands[0]!.options.length > 0, 'the real get, with its options');
  }
});
