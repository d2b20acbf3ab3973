// docs/cli.md is what `npm run docs` writes from the command definitions, and it names every option
// --help shows: a definition changed without running the generator, or declared where the generator
// does not look, fails here.
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { commands } from '../../src/cli/commands.ts';
import { cliReference } from '../../src/cli/reference.ts';
import { runCli } from '../helpers/cli.ts';

const committed = readFileSync(new URL('../../docs/cli.md', import.meta.url), 'utf8');

test('docs/cli.md is what npm run docs writes', () => {
  // assert.fixture would print a diff; a stale file is fixed by running the generator, which the message says.
  if (committed !== cliReference()) assert.fixture(committed, cliReference(), 'docs/cli.md is stale: run npm run docs and commit it');
});

test('the reference reads the same whatever the data dir, home and terminal width of whoever writes it', () => {
  const saved = { ...process.env };
  try {
    Object.assign(process.env, { TASKCTL_DATA_DIR: '/srv/elsewhere', HOME: '/home/someone-else', XDG_DATA_HOME: '/xdg', COLUMNS: '37' });
    assert.is(cliReference(), committed);
  } finally {
    for (const key of ['TASKCTL_DATA_DIR', 'HOME', 'XDG_DATA_HOME', 'COLUMNS']) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  }
});

test("every option and argument a command's --help shows has its row in the command's section", async () => {
  const helps = await Promise.all(commands.map((definition) => runCli([definition.command.split(' ')[0]!, '--help'])));
  commands.forEach((definition, index) => {
    const name = definition.command.split(' ')[0]!;
    const help = helps[index]!;
    assert.is(help.code, 0, help.stderr);
    const section = committed.split(/^## /m).find((part) => part.startsWith(`taskctl ${name}\n`));
    assert.ok(section, `no section for taskctl ${name}`);
    // yargs lists options as "  -s, --server  ..." and positionals as "  ids  ..." under "Positionals:".
    const flags = [...help.stdout.matchAll(/^ {2}(?:-\w, | {4})--([\w-]+)/gm)]
      .map((match) => match[1]!)
      .filter((flag) => flag !== 'help' && flag !== 'version');
    assert.ok(flags.length > 0 || name === 'completion', `no options read from taskctl ${name} --help`);
    for (const flag of flags) assert.match(section!, `| \`--${flag}\``, `taskctl ${name} --${flag} is missing from docs/cli.md`);
    const positionals = help.stdout.split(/^Options:$/m)[0]!.split(/^Positionals:$/m)[1] ?? '';
    for (const [, positional] of positionals.matchAll(/^ {2}(\w+)/gm))
      assert.match(section!, `| \`${positional}\` |`, `taskctl ${name} <${positional}> is missing`);
  });
});

test('a definition reads as its builder declares it: types, defaults stated or declared, env variables, choices, hidden options left out, prose kept out of HTML and tables', () => {
  const reference = cliReference([
    {
      command: 'demo <files..>',
      describe: 'Try the reference',
      builder: (yargs) =>
        yargs
          .positional('files', { type: 'string', array: true, describe: 'Files to read' })
          .options({ level: { type: 'number', default: 3, describe: 'How deep' } })
          .option('secret', { type: 'string', describe: 'Sent as Bearer <token> | never logged (env TASKCTL_DEMO_SECRET)' })
          .option('mode', { type: 'string', choices: ['fast', 'safe'], describe: 'Which way [default: safe]' })
          .option('later', { type: 'string', describe: 'When [default: 3 x --level]' })
          .option('internal', { type: 'boolean', hidden: true, describe: 'Not for users' })
          .check(() => true) as never,
      run: async () => 0,
    },
  ]);
  const section = reference.slice(reference.indexOf('## taskctl demo'));
  assert.match(section, '```\ntaskctl demo <files..> [options]\n```');
  assert.match(section, '| `files` | string, required, one or more | Files to read |');
  assert.match(section, '| `--level` | number | `3` |  | How deep |');
  assert.match(section, '| `--secret` | string |  | `TASKCTL_DEMO_SECRET` | Sent as Bearer &lt;token&gt; \\| never logged (env TASKCTL_DEMO_SECRET) |');
  assert.match(section, '| `--mode` | one of `fast`, `safe` | `safe` |  | Which way |');
  assert.match(section, '| `--later` | string | 3 x --level |  | When |');
  assert.not.match(section, 'internal');
});

test.run();
