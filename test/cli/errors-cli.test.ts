// Each of these once left the user guessing; each is now one line that says what is wrong and what to do.
import { rmSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CliProcess, runCli } from '../helpers/cli.ts';
import { startTestServer, tempDir } from '../helpers/server.ts';

const usage = async (args: string[], line: string) => {
  const result = await runCli(args);
  assert.is(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
  assert.is(result.stderr, `taskctl: ${line} (see taskctl --help)\n`);
};

test('a value not among the choices names the option, the value and every choice', async () => {
  await usage(['token', 'new', 'x', '--role', 'root'], '--role: "root" is not one of worker, operator, reader, admin');
  await usage(['token', 'new', 'x', '--role', 'operater'], '--role: "operater" is not one of worker, operator, reader, admin (did you mean operator?)');
  await usage(
    ['ls', '--state', 'bogus'],
    '--state: "bogus" is not one of watching, cancel_requested, cancelled, succeeded, failed, timed_out, stopped, lost, scheduled',
  );
});

test('cancel with no id says it needs one', async () => {
  await usage(['cancel'], 'cancel needs at least one task id, e.g. taskctl cancel job-42');
});

test('a mistyped command or subcommand is named, with the nearest one and every one there is; never "a role is missing"', async () => {
  const commands = 'commands: serve, cancel, work, status, ls, token, events, top, completion';
  await usage(['cancle', 'x'], `unknown command "cancle" (did you mean cancel?); ${commands}`);
  await usage(['tpo'], `unknown command "tpo" (did you mean top?); ${commands}`);
  await usage(['frobnicate'], `unknown command "frobnicate"; ${commands}`);
  await usage(['token', 'nwe', 'x'], 'unknown token subcommand "nwe" (did you mean new?); token subcommands: new');
  await usage(['token', 'nwe', 'x', '--role', 'worker'], 'unknown token subcommand "nwe" (did you mean new?); token subcommands: new');
  await usage(['completion', 'bsah'], 'unknown completion shell "bsah" (did you mean bash?); completion shells: bash, zsh');
});

test("a mistyped option is named as typed, with the nearest of its command's options; a stray word is called one", async () => {
  await usage(['cancel', 'x', '--reasn', 'disk full'], 'unknown option --reasn (did you mean --reason?)');
  await usage(['serve', '--watch-timout', '5s'], 'unknown option --watch-timout (did you mean --watch-timeout?)');
  await usage(
    ['work', 'x', '--grase=5s', '--sever', 'http://a'],
    'unknown option --grase (did you mean --grace?); unknown option --sever (did you mean --server?)',
  );
  await usage(['cancel', 'x', '--xyzzy'], 'unknown option --xyzzy');
  await usage(['cancel', 'x', '-z'], 'unknown option -z');
  await usage(['serve', 'foo'], 'unexpected argument "foo"');
  await usage(['cancel', 'x', '--no-reasn'], 'unknown option --no-reasn (did you mean --reason?)');
  // A reason of several words left unquoted would cancel its second word as a task: refused, nothing cancelled.
  for (const reason of [['--reason', 'wrong'], ['-r', 'wrong'], ['--reason=wrong']])
    await usage(
      ['cancel', 'job-9', ...reason, 'dataset'],
      '"dataset" follows the reason: quote a reason of several words (--reason "wrong dataset"), and put the ids to cancel before --reason',
    );
  // yargs asks for a required option first: the slip that left it out is named.
  await usage(['token', 'new', 'n', '--rle', 'reader'], 'unknown option --rle (did you mean --role?)');
  // ...and so does one that took the word meant for an id.
  await usage(['work', '--sever', 'http://x', '--', 'true'], 'unknown option --sever (did you mean --server?)');
  await usage(['worker', 'x'], 'unknown command "worker" (did you mean work?); commands: serve, cancel, work, status, ls, token, events, top, completion');
  await usage(['token', 'new', 'n'], '--role is required');
  await usage(['cancel', 'x', '-zq'], 'unknown option -z; unknown option -q');
  // What the terminal would act on is shown, not sent: a typed option is text from the user's own shell
  // history or a script, as likely pasted from anywhere.
  await usage(['cancel', 'x', '--reason\x1b]0;pwned\x07=foo'], 'unknown option --reason\u241b]0;pwned\u2407');
  await usage(['cancel', 'x', `--${'a'.repeat(5_000)}`], `unknown option --${'a'.repeat(58)}…`);
});

test('a token with a stray newline is refused at once as a usage error, not retried as a network failure', async () => {
  for (const args of [['ls'], ['work', 'nl-1'], ['cancel', 'nl-1'], ['status', 'nl-1'], ['events'], ['top']]) {
    const result = await runCli([...args, '--server', 'http://127.0.0.1:9'], { env: { TASKCTL_TOKEN: 'abc\n' } });
    assert.is(result.code, 2, `${args[0]}: ${result.stderr}`);
    assert.is(
      result.stderr,
      'taskctl: --token: must not start or end with whitespace (a stray newline from a file, or in TASKCTL_TOKEN?) (see taskctl --help)\n',
      args[0],
    );
  }
});

test('a command given too few words says what it needs: a task id, a shell, or a subcommand and a name', async () => {
  await usage(['token'], 'token needs a subcommand and a name, e.g. taskctl token new gpu-runners --role worker');
  await usage(['token', 'new'], 'token needs a subcommand and a name, e.g. taskctl token new gpu-runners --role worker');
  await usage(['completion'], 'completion needs a shell: taskctl completion bash, or taskctl completion zsh');
  await usage(['status'], 'status needs at least one task id, e.g. taskctl status job-42');
});

test('a number option given a word, a fraction or a number out of range says the range it must be in, never "received NaN"', async () => {
  const serve = (...option: string[]) => ['serve', '--store', 'memory', '--no-tui', ...option];
  for (const port of ['abc', '70000', '-1', '1.5']) await usage(serve('-p', port), '--port: must be a whole number from 0 to 65535');
  await usage(serve('--max-watches', 'many'), '--max-watches: must be a whole number, at least 1');
  await usage(serve('--event-window', 'x'), '--event-window: must be a whole number from 1 to 1000000');
  await usage(serve('--token-share', 'half'), '--token-share: must be a percent, more than 0 and at most 100');
});

test('an option given no value is a usage error naming it, never its default taken instead (serve -p would serve on 8080)', async () => {
  await usage(['serve', '-p'], '-p needs a value');
  await usage(['serve', '--store', 'memory', '--port'], '--port needs a value');
  await usage(['work', 'x', '--parent'], '--parent needs a value');
  await usage(['ls', '--state'], '--state needs a value');
});

test('work with a file for an id suggests running it after --', async () => {
  // In the folder taskctl runs in (the repository's, as runCli starts it): an id holds no "/".
  const file = `train-${process.pid}.sh`;
  const path = fileURLToPath(new URL(`../../${file}`, import.meta.url));
  try {
    writeFileSync(path, 'echo hi\n');
    await usage(['work', 'job1', file], `"${file}" is a file here, not a task id: to run it, put it after --: taskctl work job1 -- ./${file}`);
    // A path, as the README writes commands (./train.sh), gets the same hint, not "contains /".
    await usage(['work', 'job1', `./${file}`], `"./${file}" is a file here, not a task id: to run it, put it after --: taskctl work job1 -- ./${file}`);
  } finally {
    rmSync(path, { force: true });
  }
});

test('an option given twice is one line saying so, not a type error', async () => {
  await usage(['cancel', 'x', '-r', 'a', '-r', 'b'], '--reason: given more than once; give it once');
  await usage(['work', 'x', '--grace', '1s', '--grace', '2s', '--', 'true'], '--grace: given more than once; give it once');
});

test('a value starting with "-" is the value of the option before it, never flags of its own', async () => {
  // yargs read "-1h30m" as -1 -h: the help, exit 0, nothing cancelled; "-5m" as flags 5 and m.
  for (const after of ['-1h30m', '-5m']) {
    const line = `--after: "${after}" is negative: durations here count forward, e.g. ${after.slice(1)}`;
    await usage(['cancel', 'x', '--after', after], line);
    await usage(['cancel', 'x', `--after=${after}`], line);
  }
  await usage(['work', 'x', '--timeout', '-2s', '--', 'true'], '--timeout: "-2s" is negative: durations here count forward, e.g. 2s');
  await usage(['serve', '--ttl', '-1h'], '--ttl: "-1h" is negative: durations here count forward, e.g. 1h');
  await usage(['ls', '--limit', '-5'], '--limit: at least 1');
  // Where such a value means something, it is taken: a reason may start with "-".
  const server = await startTestServer();
  try {
    for (const flag of ['--reason', '-r']) {
      const result = await runCli(['cancel', `dash${flag}`, flag, '-h: wrong host', '--server', server.url]);
      assert.is(result.code, 0, result.stderr);
      assert.is(result.stdout, `cancelled dash${flag} (reason: -h: wrong host)\n`);
    }
    // A word that is one of the command's own flags stays a flag.
    const help = await runCli(['cancel', 'x', '--reason', '-h', '--server', server.url]);
    assert.is(help.code, 0);
    assert.match(help.stdout, /^taskctl cancel <ids\.\.>/);
  } finally {
    await server.close();
  }
});

test('work with a command on PATH for an id warns in one line, and watches as told', async () => {
  const server = await startTestServer();
  const dir = tempDir();
  try {
    writeFileSync(join(dir.path, 'fit-model'), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(join(dir.path, 'notes'), 'not a program\n', { mode: 0o644 });
    const env = { PATH: `${dir.path}${delimiter}${process.env.PATH}` };
    const work = new CliProcess(['work', 'x1', 'notes', 'fit-model', '600', '--no-tui', '--server', server.url], { env });
    await work.waitFor(/watching 600/);
    assert.is(
      work.stderr,
      `taskctl: warning: "fit-model" is a command (${join(dir.path, 'fit-model')}), watched here as a task id; to run it, put it after --: taskctl work x1 notes -- fit-model 600\n`,
    );
    // A warning, not an error: every id is watched until cancelled, and the run ends as any other.
    assert.is((await runCli(['cancel', 'x1', 'notes', 'fit-model', '600', '--server', server.url])).code, 0);
    const result = await work.exited;
    assert.is(result.code, 0, result.stderr);
    // The story as a new user told it, with sleep wherever this machine keeps it.
    const sleep = new CliProcess(['work', 'sleep', '600', '--no-tui', '--server', server.url]);
    await sleep.waitFor(/watching 600/);
    assert.match(
      sleep.stderr,
      /^taskctl: warning: "sleep" is a command \(\/\S+\/sleep\), watched here as a task id; to run it, put it after --: taskctl work ID -- sleep 600\n$/,
    );
    sleep.kill();
    await sleep.exited;
    // With a command after --, the ids are ids: nothing to warn of.
    const run = await runCli(['work', 'sleep', '--no-tui', '--server', server.url, '--', 'true']);
    assert.is(run.code, 0, run.stderr);
    assert.is(run.stderr, '');
  } finally {
    dir.remove();
    await server.close();
  }
});

test('connection refused suggests the server may not be running', async () => {
  const result = await runCli(['status', 'x', '--server', 'http://127.0.0.1:9']);
  assert.is(result.code, 3);
  assert.is(result.stderr, 'taskctl: cannot reach http://127.0.0.1:9: connection refused (is taskctl serve running there?)\n');
});

test('a command that is not executable: one line says so and how to run it; exit 1', async () => {
  const server = await startTestServer();
  const dir = tempDir();
  try {
    const script = join(dir.path, 'job.sh');
    writeFileSync(script, 'echo hi\n', { mode: 0o644 });
    const result = await runCli(['work', 'j-noexec', '--no-tui', '--server', server.url, '--', script]);
    assert.is(result.code, 1, result.stderr);
    assert.match(
      result.stdout,
      `exited j-noexec: cannot run ${script}: permission denied (is it executable? chmod +x it, or run it through its interpreter: -- sh ${script})`,
    );
    // The interpreter its name suggests.
    const mjs = join(dir.path, 'build.mjs');
    writeFileSync(mjs, 'console.log(1)\n', { mode: 0o644 });
    const node = await runCli(['work', 'j-noexec-2', '--no-tui', '--server', server.url, '--', mjs]);
    assert.match(node.stdout, `run it through its interpreter: -- node ${mjs})`);
    assert.not.match(result.stdout + result.stderr, 'EACCES');
  } finally {
    dir.remove();
    await server.close();
  }
});

test.run();
