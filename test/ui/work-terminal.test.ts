// `work`'s screen in a real terminal (tmux), run from source: what its keys do while commands are stopping.
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { eventually, startTestServer } from '../helpers/server.ts';
import { HAS_TMUX, TmuxSession } from '../helpers/tmux.ts';

const it = HAS_TMUX ? test : test.skip;
if (!HAS_TMUX) console.warn('SKIPPED: tmux is not installed, so the terminal tests did not run');

const entry = fileURLToPath(new URL('../../src/cli/run.ts', import.meta.url));
/** taskctl from source, as a command line for the terminal (which starts in the repository, as the tests do). */
const taskctl = (args: string) => `${process.execPath} --import tsx ${entry} ${args}`;
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

it('Ctrl-C on the screen counts the grace down and says a second one forces; the second kills at once', async () => {
  const server = await startTestServer({ watchTimeoutMs: 2_000 });
  // Ignores SIGTERM, and so does its background child: only SIGKILL ends them, after a minute's grace.
  const stubborn = `sh -c 'trap "" TERM; sleep 1000 & echo "grandchild $!"; wait'`;
  const session = new TmuxSession(taskctl(`work stubborn --grace 60s --server ${server.url} -- ${stubborn}`));
  try {
    const running = await session.waitForScreen(/^stubborn\s+running.*grandchild (\d+)/m, 30_000);
    const grandchild = Number(/grandchild (\d+)/.exec(running)![1]);
    session.sendKeys('C-c');
    const stopping = await session.waitForScreen(/Ctrl-C again to force/);
    assert.match(stopping, /^stubborn\s+cancelling.*stopping… SIGKILL in \d+s/m);
    assert.ok(alive(grandchild), 'the grace is still running');
    session.sendKeys('C-c');
    await eventually(() => session.exitStatus() !== undefined, 'work to exit at the second Ctrl-C', 10_000);
    assert.is(session.exitStatus(), 130);
    await eventually(() => !alive(grandchild), 'the stubborn grandchild to be killed', 3_000);
  } finally {
    session.kill();
    await server.close();
  }
});

test.run();
