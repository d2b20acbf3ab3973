// The built binary in a real terminal (tmux), read back with capture-pane.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ensureBinary } from '../helpers/binary.ts';
import { eventually, startTestServer } from '../helpers/server.ts';
import { HAS_TMUX, TmuxSession } from '../helpers/tmux.ts';

const it = HAS_TMUX ? test : test.skip;
if (!HAS_TMUX) console.warn('SKIPPED: tmux is not installed, so the terminal tests did not run');

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
    await eventually(() => session.exitStatus() !== undefined, 'work to exit after q');
    assert.is(session.exitStatus(), 130);
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
    await session.waitForScreen(/job-9\s+anonymous\s+127\.0\.0\.1\s+operator asked/);
    await session.waitForScreen(/Task states[\s\S]*job-9\s+cancel_requested/);
    session.sendKeys('C-c');
    await eventually(() => session.exitStatus() !== undefined, 'serve to exit after Ctrl-C');
    assert.is(session.exitStatus(), 0);
  } finally {
    session.kill();
  }
});

test.run();
