// `work --progress` as a user runs it: a real worker process, real commands, a real server. What reaches
// the server is each task's last line, cleaned and cut, at most once per task every 2 s; `::progress`
// lines report explicitly and are never output; without the flag nothing is sent.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CliProcess, runCli } from '../helpers/cli.ts';
import { follow } from '../helpers/events.ts';
import { eventually, startTestServer } from '../helpers/server.ts';

const statusOf = async (url: string, id: string) => (await (await fetch(`${url}/v1/tasks/${id}`)).json()).status;

test('the last output line, cleaned and cut to 200 characters, shows in status, ls and the event stream', async () => {
  const server = await startTestServer({ progressIntervalMs: 100 });
  const events = follow(server.url, { ids: ['pl-1'] });
  // A coloured line with a tab and a title escape, longer than 200 characters; then the command waits to be cancelled.
  const script = `printf 'starting\\n'; printf '\\033[32mepoch 7/10\\033[0m\\tloss=%s\\033]0;t\\007\\n' "$(printf 'x%.0s' $(seq 1 300))"; sleep 60`;
  const work = new CliProcess(['work', 'pl-1', '--progress', '--json', '--server', server.url, '--', 'sh', '-c', script]);
  try {
    await eventually(async () => (await statusOf(server.url, 'pl-1'))?.progress !== undefined, 'progress on the server', 15_000);
    const { progress } = await statusOf(server.url, 'pl-1');
    assert.ok(progress.text.startsWith('epoch 7/10 loss=xxx'), progress.text);
    assert.is(Array.from(progress.text).length, 200);
    assert.ok(progress.text.endsWith('…'));
    assert.not.match(progress.text, /[\x00-\x1f\x7f]/);
    const status = await runCli(['status', 'pl-1', '--server', server.url]);
    assert.match(status.stdout, /progress: epoch 7\/10 loss=x+… \(\d+(ms|s) ago\)/);
    const ls = await runCli(['ls', '--json', '--server', server.url]);
    assert.is(JSON.parse(ls.stdout.trim()).progress.text, progress.text);
    await eventually(() => events.events.some((e) => e.change === 'progress'), 'a progress event');
    assert.is(events.events.find((e) => e.change === 'progress')!.status!.progress!.text, progress.text);
  } finally {
    work.kill('SIGINT');
    await work.exited;
    await events.stop();
    await server.close();
  }
});

test('::progress lines report explicitly: they win over plain lines, and are never output', async () => {
  const server = await startTestServer({ progressIntervalMs: 100 });
  const script = `for i in 1 2 3; do echo "::progress stage $i of 3"; echo "noise line $i"; sleep 0.3; done; sleep 2.5`;
  const work = new CliProcess(['work', 'pe-1', '--progress', '--json', '--server', server.url, '--', 'sh', '-c', script]);
  try {
    const result = await work.exited;
    assert.is(result.code, 0, result.stderr);
    const events = result.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line));
    const outputs = events.filter((e) => e.event === 'output').map((e) => e.line);
    assert.equal(outputs, ['noise line 1', 'noise line 2', 'noise line 3'], 'the ::progress lines are not output');
    assert.equal(
      events.filter((e) => e.event === 'progress').map((e) => e.text),
      ['stage 1 of 3', 'stage 2 of 3', 'stage 3 of 3'],
    );
    await eventually(async () => (await statusOf(server.url, 'pe-1'))?.progress?.text === 'stage 3 of 3', 'the last explicit report, not the last line');
  } finally {
    work.kill('SIGKILL');
    await server.close();
  }
});

test('a command printing hundreds of lines a second sends at most one update per 2 s', async () => {
  const server = await startTestServer({ progressIntervalMs: 50 });
  const events = follow(server.url, { ids: ['pr-1'] });
  // About 5 s of lines, 200 a second.
  const script = `i=0; while [ $i -lt 1000 ]; do echo "line $i"; i=$((i+1)); sleep 0.005; done`;
  const started = Date.now();
  const work = new CliProcess(['work', 'pr-1', '--progress', '--no-tui', '--server', server.url, '--', 'sh', '-c', script]);
  try {
    const result = await work.exited;
    assert.is(result.code, 0, result.stderr);
    await eventually(async () => /^line \d+$/.test((await statusOf(server.url, 'pr-1'))?.progress?.text ?? ''), 'progress on the server');
    const seconds = (Date.now() - started) / 1_000;
    const updates = events.events.filter((e) => e.change === 'progress').length;
    assert.ok(updates >= 1, 'some progress arrived');
    // One send per 2 s interval while it ran, and the last one as work ends.
    assert.ok(updates <= Math.ceil(seconds / 2) + 1, `${updates} updates in ${seconds.toFixed(1)} s`);
  } finally {
    work.kill('SIGKILL');
    await events.stop();
    await server.close();
  }
});

test('without --progress nothing is sent (output may hold secrets), and ::progress lines are still not output', async () => {
  const server = await startTestServer({ progressIntervalMs: 50 });
  const work = new CliProcess([
    'work',
    'ps-1',
    '--json',
    '--server',
    server.url,
    '--',
    'sh',
    '-c',
    'echo "password=hunter2"; echo "::progress secret stage"; sleep 2.5',
  ]);
  try {
    const result = await work.exited;
    assert.is(result.code, 0);
    const events = result.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line));
    assert.equal(
      events.filter((e) => e.event === 'output').map((e) => e.line),
      ['password=hunter2'],
    );
    assert.equal(
      events.filter((e) => e.event === 'progress').map((e) => e.text),
      ['secret stage'],
      "still the command's progress on this screen",
    );
    const status = await statusOf(server.url, 'ps-1');
    assert.is(status.state, 'succeeded');
    assert.is(status.progress, undefined);
  } finally {
    work.kill('SIGKILL');
    await server.close();
  }
});

test.run();
