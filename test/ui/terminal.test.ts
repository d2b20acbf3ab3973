// The built binary in a real terminal (tmux), read back with capture-pane.
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ensureBinary } from '../helpers/binary.ts';
import { isAlive } from '../helpers/cli.ts';
import { eventually, startTestServer, tempDir } from '../helpers/server.ts';
import { HAS_TMUX, TmuxSession, terminalTest as it } from '../helpers/tmux.ts';
import { assertServeScreen, assertWorkScreen, showsId } from './screen-checks.ts';

let binary = '';
test.before(() => {
  if (HAS_TMUX) binary = ensureBinary();
});

it('work on a 120x30 terminal: both ids, a cancel marks its row, a lost server shows, q quits', async () => {
  const server = await startTestServer({ watchTimeoutMs: 10_000 });
  const session = new TmuxSession(`${binary} work 1234 5678 --server ${server.url}`);
  try {
    const first = await session.waitForScreen(/● connected[\s\S]*^1234\s+watching[\s\S]*^5678\s+watching/m);
    assert.match(first, /^taskctl work · http:\/\/127\.0\.0\.1:\d+/m);
    assert.match(first, 'q quit');
    await server.canceler.cancel('1234', { reason: 'wrong dataset' });
    const afterCancel = await session.waitForScreen(/^1234\s+cancelled.*reason: wrong dataset/m, 2_000);
    assert.match(afterCancel, /^5678\s+watching/m);
    await server.close();
    await session.waitForScreen(/○ reconnecting \(attempt \d+/);
    session.sendKeys('q');
    // The report of 1234's cancel cannot reach the stopped server: work tries for its 5 s flush, then exits.
    assert.is(await session.waitForExit('work to exit after q', 15_000), 130);
  } finally {
    session.kill();
    await server.close();
  }
});

it('serve on a terminal shows its dashboard with the latest cancels; Ctrl-C stops it cleanly', async () => {
  const session = new TmuxSession(`${binary} serve --port 0 --store memory`);
  try {
    const screen = await session.waitForScreen(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
    const port = /127\.0\.0\.1:(\d+)/.exec(screen)![1];
    assert.match(screen, 'store memory');
    assert.match(screen, 'open watches 0');
    const res = await fetch(`http://127.0.0.1:${port}/v1/tasks/job-9/cancel`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'operator asked' }),
    });
    assert.is(res.status, 200);
    await session.waitForScreen(/job-9\s+127\.0\.0\.1\s+operator asked/);
    await session.waitForScreen(/Task states[\s\S]*job-9\s+cancel_requested/);
    session.sendKeys('C-c');
    assert.is(await session.waitForExit('serve to exit after Ctrl-C'), 0);
  } finally {
    session.kill();
  }
});

it('serve whose terminal is closed (tmux killed: SIGHUP, then EIO) stops instead of running on with no screen', async () => {
  const session = new TmuxSession(`${binary} serve --port 0 --store memory`);
  let pid: number | undefined;
  try {
    await session.waitForScreen(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
    pid = session.commandPid();
    assert.ok(pid, 'the server process');
  } finally {
    session.kill();
  }
  try {
    await eventually(() => !isAlive(pid!), 'serve to stop once its terminal is gone', 15_000);
  } finally {
    if (isAlive(pid!)) process.kill(pid!, 'SIGKILL');
  }
});

const LONG_IDS = [
  ...Array.from({ length: 10 }, (_, i) => `pipeline-step-with-a-long-name-${i + 1}`),
  '训练任务-数据管道-第七步-模型评估-第十二号',
  `${'stage-'.repeat(10)}0064`,
];
const SMALL = { columns: 80, rows: 24 };

it('work on an 80x24 terminal with long and CJK ids and a long reason: title first, one line per row', async () => {
  const server = await startTestServer({ watchTimeoutMs: 10_000 });
  const session = new TmuxSession(`${binary} work ${LONG_IDS.join(' ')} --server ${server.url}`, SMALL);
  try {
    await session.waitForScreen(/● connected/);
    await server.canceler.cancel(LONG_IDS[0]!, { reason: `the dataset was wrong: ${'all of it, '.repeat(40)}` });
    const screen = await session.waitUntil((s) => assert.match(s, /cancelled +\S+ +reason: the dataset/));
    const idCells = assertWorkScreen(screen, SMALL, LONG_IDS.length, 'work in tmux at 80x24');
    for (const id of LONG_IDS)
      assert.ok(
        idCells.some((cell) => showsId(cell, id)),
        `${id} not shown with its end:\n${screen}`,
      );
    assert.ok(
      idCells.some((cell) => cell.includes('…')),
      'the longest ids are shortened',
    );
  } finally {
    session.kill();
    await server.close();
  }
});

it('serve on an 80x24 terminal: the title, times, ids and addresses each keep to their place', async () => {
  const session = new TmuxSession(`${binary} serve --port 0 --store memory`, SMALL);
  try {
    const screen = await session.waitForScreen(/127\.0\.0\.1:(\d+)/);
    const port = /127\.0\.0\.1:(\d+)/.exec(screen)![1];
    for (const id of LONG_IDS.slice(-4)) {
      const res = await fetch(`http://127.0.0.1:${port}/v1/tasks/${encodeURIComponent(id)}/cancel`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ reason: `operator asked: ${'the run used the wrong data set, '.repeat(10)}` }),
      });
      assert.is(res.status, 200);
    }
    const after = { cancels: /127\.0\.0\.1/, changes: /cancel_requested/ };
    const shown = await session.waitUntil((s) => assert.is(assertServeScreen(s, SMALL, after, 'serve')['changes']!.length, 4));
    assert.match(shown.split('\n')[0]!, /^taskctl serve · (listening on )?http:\/\/127\.0\.0\.1:\d+ · up \d/);
    const lists = assertServeScreen(shown, SMALL, after, 'serve in tmux at 80x24');
    const newest = LONG_IDS.slice(-4).reverse();
    lists['cancels']!.forEach((cell, i) => assert.ok(showsId(cell, newest[i]!), `${cell} is not ${newest[i]}:\n${shown}`));
    assert.is(lists['cancels']!.length, 4);
  } finally {
    session.kill();
  }
});

it('work redraws at once when the terminal shrinks from 120x30 to 80x24, leaving nothing behind', async () => {
  const server = await startTestServer({ watchTimeoutMs: 10_000 });
  const ids = LONG_IDS.slice(0, 3);
  // The screen starts below lines of shell history, as it does when run from a prompt.
  const command = `sh -c "printf '$ earlier command\\nits output\\n'; exec ${binary} work ${ids.join(' ')} --server ${server.url}"`;
  const session = new TmuxSession(command, { columns: 120, rows: 30 });
  try {
    await session.waitForScreen(/● connected/);
    // Rows as wide as the terminal: a terminal that reflows re-wraps them into two lines each when it narrows.
    for (const id of ids.slice(0, 2)) await server.canceler.cancel(id, { reason: `the dataset was wrong: ${'all of it, '.repeat(20)}` });
    // The shell's lines may stay above the screen (or be erased); nothing else may.
    const screenOf = (capture: string) => capture.replace(/^\$ earlier command\nits output\n/, '');
    await session.waitUntil((s) => {
      assertWorkScreen(screenOf(s), { columns: 120, rows: 28 }, ids.length, 'work at 120x30');
      assert.is(s.split('\n').filter((line) => line.trimEnd().length === 120).length, 2, `two full-width rows:\n${s}`);
    });
    session.resize(SMALL);
    await session.waitUntil((s) => assertWorkScreen(screenOf(s), SMALL, ids.length, 'work resized to 80x24'), 3_000);
  } finally {
    session.kill();
    await server.close();
  }
});

it('with stderr redirected to a file, work and top draw on the terminal and write no escape code into the file', async () => {
  const server = await startTestServer({ watchTimeoutMs: 2_000 });
  const dir = tempDir();
  const work = new TmuxSession(`${binary} work job-1 --server ${server.url} -- sleep 0.2 2>${dir.path}/work.err`);
  const top = new TmuxSession(`${binary} top --server ${server.url} 2>${dir.path}/top.err`);
  try {
    assert.is(await work.waitForExit('work to end with its command'), 0);
    assert.match(work.screen(), /^job-1\s+exited 0/m, 'the screen was drawn');
    await top.waitForScreen(/job-1 +succeeded/);
    top.sendKeys('q');
    assert.is(await top.waitForExit('top to quit on q'), 0);
    // Ink hides the cursor on the terminal (stdout) and shows it again there; stderr is not a terminal.
    assert.is(readFileSync(`${dir.path}/work.err`, 'utf8'), '', 'work');
    assert.is(readFileSync(`${dir.path}/top.err`, 'utf8'), '', 'top');
  } finally {
    work.kill();
    top.kill();
    dir.remove();
    await server.close();
  }
});

it('serve redraws at once when the terminal shrinks from 120x30 to 80x24', async () => {
  const session = new TmuxSession(`${binary} serve --port 0 --store memory`, { columns: 120, rows: 30 });
  try {
    const before = await session.waitForScreen(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
    const port = /127\.0\.0\.1:(\d+)/.exec(before)![1];
    for (const id of LONG_IDS) await fetch(`http://127.0.0.1:${port}/v1/tasks/${encodeURIComponent(id)}/cancel`, { method: 'POST' });
    const after = { cancels: /127\.0\.0\.1/, changes: /cancel_requested/ };
    await session.waitUntil((s) => assert.match(s, 'Recent cancels · 1 more not shown'));
    session.resize(SMALL);
    const screen = await session.waitUntil((s) => assertServeScreen(s, SMALL, after, 'serve resized to 80x24'), 3_000);
    assert.match(screen, /^Recent cancels · \d more not shown$/m, 'the lists are cut to the smaller height');
    assert.match(screen, /^\d\d:\d\d:\d\d {2}stage-stage-.*….*0064 {2,}127\.0\.0\.1/m, 'ids are shortened to the narrower width');
  } finally {
    session.kill();
  }
});

test.run();
