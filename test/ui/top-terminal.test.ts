// `taskctl top` from the built binary in a real terminal (tmux), read back with capture-pane.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ensureBinary } from '../helpers/binary.ts';
import { post } from '../helpers/events.ts';
import { eventually, startTestServer } from '../helpers/server.ts';
import { HAS_TMUX, TmuxSession, terminalTest as it } from '../helpers/tmux.ts';
import { assertFits } from './screen-checks.ts';

let binary = '';
test.before(() => {
  if (HAS_TMUX) binary = ensureBinary();
});

const SMALL = { columns: 80, rows: 24 };

/** c on the selected task `id`, then `reason` typed on the confirm line and enter, as a user does it. */
async function cancelSelected(session: TmuxSession, id: string, reason: string): Promise<void> {
  session.sendKeys('c');
  await session.waitForScreen(new RegExp(`cancel ${id}\\? · reason: █`));
  session.sendKeys('-l', reason);
  session.sendKeys('Enter');
}
const worker = { id: 'tmux-w', host: 'gpu-3', pid: 777 };

it('top on an 80x24 terminal: lists tasks, shows a cancel made elsewhere at once, cancels the selected task with a reason, shows a lost server, q quits', async () => {
  const server = await startTestServer({ watchTimeoutMs: 30_000, progressIntervalMs: 100 });
  const ids = Array.from({ length: 30 }, (_, i) => `train-${String(i).padStart(2, '0')}`);
  await post(`${server.url}/v1/watch`, { ids, timeout: '100ms', worker });
  await post(`${server.url}/v1/progress`, { updates: [{ id: 'train-00', text: 'epoch 3/10 loss=0.41' }] });
  await eventually(async () => (await (await fetch(`${server.url}/v1/tasks/train-00`)).json()).status?.progress !== undefined, 'progress stored');
  const session = new TmuxSession(`${binary} top --server ${server.url}`, SMALL);
  try {
    const first = await session.waitForScreen(/^› +train-00 +watching .*epoch 3\/10/m, 15_000);
    assertFits(first, SMALL, 'top at 80x24');
    assert.match(first, /^taskctl top · http:\/\/127\.0\.0\.1:\d+ · ● connected/m);
    assert.match(first, /^30 tasks · rows 1–19 of 30 · 30 watching$/m);
    assert.match(first, /^ +TASK +STATE +SINCE/m);
    assert.match(first, /q quit$/m);

    // A cancel made elsewhere appears without a key pressed (how fast is the bench's business, not a test's).
    assert.is(await post(`${server.url}/v1/tasks/train-02/cancel`, { reason: 'from elsewhere' }), 200);
    await session.waitForScreen(/^ +train-02 +cancel_requested +\S+ .*anonymous/m);

    // Down to train-05 with j, c, a reason, enter: cancelled on the server, by this client.
    for (let i = 0; i < 5; i++) session.sendKeys('j');
    await session.waitForScreen(/^› +train-05 /m);
    await cancelSelected(session, 'train-05', 'wrong dataset');
    await session.waitForScreen(/^cancelled train-05 \(reason: wrong dataset\)/m);
    const task = await (await fetch(`${server.url}/v1/tasks/train-05`)).json();
    assert.is(task.cancelled, true);
    assert.is(task.record.reason, 'wrong dataset');
    await session.waitForScreen(/^› +train-05 +cancel_requested/m);

    // The detail pane of the selected task.
    session.sendKeys('Enter');
    const detail = await session.waitForScreen(/^reason +wrong dataset/m);
    assert.match(detail, /^state +cancel_requested since/m);
    assert.match(detail, /^worker +gpu-3:777 \(tmux-w\)/m);
    assert.match(detail, /^history +\d\d:\d\d:\d\d {2}watching/m);
    session.sendKeys('Escape');
    await session.waitForScreen(/^ +TASK +STATE/m);

    // A cancel of train-02, cancelled elsewhere already: the reason typed is not recorded, and the screen says so.
    for (let i = 0; i < 3; i++) session.sendKeys('k');
    await session.waitForScreen(/^› +train-02 /m);
    await cancelSelected(session, 'train-02', 'too late');
    // 80 columns cut the line at its end, after what matters.
    await session.waitForScreen(/^reason not recorded: train-02 was already cancelled at \d\d:\d\d:\d\d by anonymous \(r/m);
    assert.is((await (await fetch(`${server.url}/v1/tasks/train-02`)).json()).record.reason, 'from elsewhere');

    // The server goes away: the connection line says so, and keeps trying.
    await server.close();
    const lost = await session.waitForScreen(/○ reconnecting \(attempt \d+/, 10_000);
    assertFits(lost, SMALL, 'top with the server gone');
    session.sendKeys('q');
    assert.is(await session.waitForExit('top to exit after q'), 0);
  } finally {
    session.kill();
    await server.close();
  }
});

it('top filters by text and cycles states, and redraws to fit when the terminal shrinks', async () => {
  const server = await startTestServer({ watchTimeoutMs: 30_000 });
  const ids = ['alpha-1', 'alpha-2', 'beta-1', '训练任务-第七步', `${'stage-'.repeat(10)}0064`];
  await post(`${server.url}/v1/watch`, { ids, timeout: '100ms', worker });
  await post(`${server.url}/v1/tasks/alpha-2/report`, { outcome: 'failed', exitCode: 2 });
  // A cancel scheduled for a task nothing else is known of: a row of its own, and counted.
  assert.is(await post(`${server.url}/v1/tasks/gamma-1/cancel`, { after: '1h' }), 202);
  const session = new TmuxSession(`${binary} top --server ${server.url}`, { columns: 120, rows: 30 });
  try {
    const listed = await session.waitForScreen(/^6 tasks · 4 watching · 1 failed · 1 scheduled$/m, 15_000);
    assert.match(listed, /^ +gamma-1 +scheduled/m);
    session.sendKeys('/');
    session.sendKeys('-l', 'ALPHA');
    const filtered = await session.waitForScreen(/6 tasks \(2 shown\) · filter "ALPHA"/);
    assert.not.match(filtered, 'beta-1');
    session.sendKeys('Enter');
    for (let i = 0; i < 5; i++) session.sendKeys('s');
    const failed = await session.waitForScreen(/\(1 shown\) · state failed/);
    assert.match(failed, /^› +alpha-2 +failed/m);
    session.sendKeys('Escape');
    await session.waitForScreen(/^6 tasks · /m);
    session.resize(SMALL);
    const small = await session.waitUntil((s) => {
      assertFits(s, SMALL, 'top resized to 80x24');
      assert.match(s, /stage-.*….*0064 +watching/);
    }, 5_000);
    assert.is(small.split('taskctl top').length, 2, 'one title, nothing left of the wider frame');
    session.sendKeys('q');
    assert.is(await session.waitForExit('top to exit after q'), 0);
  } finally {
    session.kill();
    await server.close();
  }
});

test.run();
