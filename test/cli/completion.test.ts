// Tab completion in real shells: the built binary on a PATH, its `completion` script sourced in a bash and
// a zsh running in a real terminal (tmux), Tab pressed, and what the shell filled in read back.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ensureBinary } from '../helpers/binary.ts';
import { runCli } from '../helpers/cli.ts';
import { HAS_TMUX, TmuxSession } from '../helpers/tmux.ts';

const HAS_ZSH = spawnSync('zsh', ['--version']).status === 0;
const inTmux = HAS_TMUX ? test : test.skip;
const inZsh = HAS_TMUX && HAS_ZSH ? test : test.skip;
if (!HAS_TMUX) console.warn('SKIPPED: tmux is not installed, so completion was not tried in a real shell');
if (!HAS_ZSH) console.warn('SKIPPED: zsh is not installed, so zsh completion was not tried');

let home = '';
test.before(() => {
  home = mkdtempSync(join(tmpdir(), 'taskctl-completion-'));
  // `taskctl` on the PATH is the executable users download: its bundle answers the completion requests.
  if (HAS_TMUX) symlinkSync(ensureBinary(), join(home, 'taskctl'));
});
test.after(() => rmSync(home, { recursive: true, force: true }));

/** A shell in a real terminal with nothing of ours in its environment but taskctl on the PATH. */
function shell(command: string): TmuxSession {
  return new TmuxSession(`env -i HOME=${home} TERM=xterm PATH=${home}:/usr/bin:/bin ${command}`, { columns: 160, rows: 30 });
}

inTmux('bash: Tab completes a command, an option, and lists the choices of an option', async () => {
  const session = shell('bash --norc --noprofile');
  try {
    session.sendKeys("PS1='$ '; source <(taskctl completion bash)", 'Enter');
    // Keys typed before the shell reads them would be echoed ahead of its prompt. (capture-pane drops
    // trailing spaces, so a prompt reads "$" and a completed word shows without the space after it.)
    await session.waitForScreen(/^\$$/m);
    session.sendKeys('taskctl se', 'Tab');
    await session.waitForScreen(/^\$ taskctl serve$/m);
    session.sendKeys('--', '--webhook-s', 'Tab'); // -- so tmux does not take it for a flag of its own
    await session.waitForScreen(/^\$ taskctl serve --webhook-secret$/m);
    // --r once had a rival, the bogus --r (-r's letter after two dashes), and stayed as typed.
    session.sendKeys('C-u', 'taskctl cancel job-1 ');
    session.sendKeys('--', '--r', 'Tab');
    await session.waitForScreen(/^\$ taskctl cancel job-1 --reason$/m);
    session.sendKeys('C-u', 'taskctl token new ci --role ', 'Tab', 'Tab');
    await session.waitForScreen(/^admin +operator +reader +worker\s*$/m);
    session.sendKeys('C-u', 'taskctl completion z', 'Tab');
    await session.waitForScreen(/^\$ taskctl completion zsh$/m);
  } finally {
    session.kill();
  }
});

// Loaded both ways zsh users load completions: sourced from ~/.zshrc, or autoloaded from a file on $fpath.
for (const [how, setup] of [
  ['sourced', 'autoload -U compinit && compinit -u && source <(taskctl completion zsh)'],
  ['autoloaded from $fpath', 'mkdir -p ~/zfunc && taskctl completion zsh > ~/zfunc/_taskctl && fpath=(~/zfunc $fpath) && autoload -U compinit && compinit -u'],
] as const) {
  inZsh(`zsh, ${how}: Tab completes a command and an option, lists the commands with what each does, and keeps doing so`, async () => {
    const session = shell('zsh -f');
    try {
      session.sendKeys(`PS1='$ '; ${setup}`, 'Enter');
      await session.waitForScreen(/^\$$/m);
      session.sendKeys('taskctl se', 'Tab');
      await session.waitForScreen(/^\$ taskctl serve$/m);
      session.sendKeys('--', '--webhook-s', 'Tab'); // -- so tmux does not take it for a flag of its own
      await session.waitForScreen(/^\$ taskctl serve --webhook-secret$/m);
      session.sendKeys('C-u', 'taskctl status job-1 ');
      session.sendKeys('--', '--s', 'Tab');
      await session.waitForScreen(/^\$ taskctl status job-1 --server$/m);
      session.sendKeys('C-u', 'taskctl ', 'Tab');
      const listed = await session.waitForScreen(/^work +-- Watch tasks and stop them when cancelled/m);
      assert.match(listed, /^cancel +-- Cancel tasks/m);
      assert.match(listed, /^completion +-- Print the script/m);
    } finally {
      session.kill();
    }
  });
}

test('a completion request answers from the definitions and never runs the command it completes', async () => {
  // Were `serve` run here, it would listen until killed and this would time out.
  const result = await runCli(['--get-yargs-completions', 'taskctl', 'serve', '--store', 'memory', '--port', '0', '--']);
  assert.is(result.code, 0, result.stderr);
  assert.ok(result.stdout.split('\n').includes('--webhook-secret'), result.stdout);
  assert.not.match(result.stdout, /listening/);
});

test('options are offered by their names only: a one-letter alias never comes back as a bogus --s, --r or --p', async () => {
  for (const words of [['cancel', 'x'], ['work', 'x'], ['status', 'x'], ['ls'], ['top'], ['events'], ['serve'], ['token', 'new', 'x']]) {
    for (const [shell, env] of [
      ['bash', { SHELL: 'bash' }],
      ['zsh', { ZSH_NAME: 'zsh' }],
    ] as const) {
      const result = await runCli(['--get-yargs-completions', 'taskctl', ...words, '--'], { env });
      assert.is(result.code, 0, result.stderr);
      const offered = result.stdout.split('\n').filter(Boolean);
      assert.ok(offered.includes(shell === 'zsh' ? '--help:Show help' : '--help'), `${shell}, ${words.join(' ')} --: ${result.stdout}`);
      assert.equal(
        offered.filter((candidate) => /^--[^-:](:|$)/.test(candidate)),
        [],
        `${shell}, ${words.join(' ')} --`,
      );
    }
  }
  const cancel = await runCli(['--get-yargs-completions', 'taskctl', 'cancel', 'x', '--'], { env: { SHELL: 'bash' } });
  assert.ok(
    ['--server', '--reason'].every((name) => cancel.stdout.split('\n').includes(name)),
    cancel.stdout,
  );
});

test('the bash script passes shellcheck', async () => {
  const script = await runCli(['completion', 'bash']);
  assert.is(script.code, 0, script.stderr);
  const lint = spawnSync('shellcheck', ['--shell=bash', '-'], { input: script.stdout, encoding: 'utf8' });
  assert.ok(lint.error === undefined, 'shellcheck is not installed (.ci/run installs it)');
  assert.is(lint.status, 0, lint.stdout);
});

test('completion for a shell it does not know is one line and exit 2', async () => {
  const result = await runCli(['completion', 'fish']);
  assert.is(result.code, 2);
  assert.is(result.stderr, 'taskctl: unknown completion shell "fish"; completion shells: bash, zsh (see taskctl --help)\n');
  assert.is(result.stdout, '');
});

test.run();
