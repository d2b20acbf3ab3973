// `work`'s screen in a real terminal (tmux), run from source: what its keys do while commands are stopping.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isAlive, sourceCommandLine } from '../helpers/cli.ts';
import { eventually, startTestServer } from '../helpers/server.ts';
import { TmuxSession, terminalTest as it } from '../helpers/tmux.ts';

it('Ctrl-C on the screen counts the grace down and says a second one forces; the second kills at once', async () => {
  const server = await startTestServer({ watchTimeoutMs: 2_000 });
  // Ignores SIGTERM, and so does its background child: only SIGKILL ends them, after a minute's grace.
  const stubborn = `sh -c 'trap "" TERM; sleep 1000 & echo "grandchild $!"; wait'`;
  const session = new TmuxSession(sourceCommandLine(`work stubborn --grace 60s --server ${server.url} -- ${stubborn}`));
  try {
    const running = await session.waitForScreen(/^stubborn\s+running.*grandchild (\d+)/m, 30_000);
    const grandchild = Number(/grandchild (\d+)/.exec(running)![1]);
    session.sendKeys('C-c');
    const stopping = await session.waitForScreen(/Ctrl-C again to force/);
    assert.match(stopping, /^stubborn\s+cancelling.*stopping… SIGKILL in \d+s/m);
    assert.ok(isAlive(grandchild), 'the grace is still running');
    session.sendKeys('C-c');
    assert.is(await session.waitForExit('work to exit at the second Ctrl-C'), 130);
    await eventually(() => !isAlive(grandchild), 'the stubborn grandchild to be killed', 3_000);
  } finally {
    session.kill();
    await server.close();
  }
});

it("a failed command's last lines of output are printed below the screen when work ends, its own and its stderr", async () => {
  const server = await startTestServer({ watchTimeoutMs: 2_000 });
  const failing = `sh -c 'for i in $(seq 15); do echo "line $i"; done; echo "Traceback: boom" >&2; exit 3'`;
  const session = new TmuxSession(sourceCommandLine(`work fail-1 --server ${server.url} -- ${failing}`), { columns: 100, rows: 30 });
  try {
    assert.is(await session.waitForExit('work to exit once its command failed'), 1);
    const screen = session.screen();
    assert.match(screen, /^fail-1 failed \(exit code 3\); the last 10 lines of its output:$/m);
    assert.match(screen, /^\[fail-1\] line 7$/m);
    assert.match(screen, /^\[fail-1\] line 15\n\[fail-1\] Traceback: boom$/m);
    assert.not.match(screen, /^\[fail-1\] line 6$/m, 'only the last ten');
  } finally {
    session.kill();
    await server.close();
  }
});

test.run();
