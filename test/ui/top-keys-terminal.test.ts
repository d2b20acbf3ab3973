// `taskctl top` from source in a real terminal (tmux): keys that arrive together in one read, as a paste,
// fast typing over SSH or `tmux send-keys text Enter` deliver them, are each taken, Enter included.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sourceCommandLine } from '../helpers/cli.ts';
import { post } from '../helpers/events.ts';
import { startTestServer } from '../helpers/server.ts';
import { TmuxSession, terminalTest as it } from '../helpers/tmux.ts';

const worker = { id: 'tmux-w', host: 'gpu-3', pid: 777 };

it('text and Enter in one send-keys: the filter is kept, the cancel is confirmed; a pasted line break is a space', async () => {
  const server = await startTestServer({ watchTimeoutMs: 30_000 });
  await post(`${server.url}/v1/watch`, { ids: ['alpha-1', 'alpha-2', 'beta-1'], timeout: '100ms', worker });
  const session = new TmuxSession(sourceCommandLine(`top --server ${server.url}`));
  try {
    await session.waitForScreen(/3 tasks · 3 watching/, 30_000);
    session.sendKeys('/');
    await session.waitForScreen(/^\/█ · enter keep/m);
    session.sendKeys('alpha-2', 'Enter');
    // Enter took: the filter is kept and the keys go to the list again (j moves, it is not typed).
    const filtered = await session.waitForScreen(/3 tasks \(1 shown\) · filter "alpha-2"/);
    assert.match(filtered, /^› +alpha-2 +watching/m);
    session.sendKeys('c');
    await session.waitForScreen(/cancel alpha-2\? · reason: █/);
    session.paste('wrong\ndataset');
    await session.waitForScreen(/cancel alpha-2\? · reason: wrong dataset█/);
    session.sendKeys(' again', 'Enter');
    await session.waitForScreen(/^cancelled alpha-2 \(reason: wrong dataset again\)/m);
    const task = await (await fetch(`${server.url}/v1/tasks/alpha-2`)).json();
    assert.is(task.record.reason, 'wrong dataset again');
    session.sendKeys('q');
    assert.is(await session.waitForExit('top to exit after q'), 0);
  } finally {
    session.kill();
    await server.close();
  }
});

test.run();
