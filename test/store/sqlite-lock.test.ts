// One server per sqlite file: a second is refused in one line naming the file and the process holding it.
import { existsSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CliProcess, runCli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/server.ts';
import { freePort } from '../helpers/tcp-proxy.ts';

test('a second server on one sqlite file exits 3 naming the file and the holder; once the first stops, it starts', async () => {
  const dir = tempDir();
  const store = `sqlite:${dir.path}/taskctl.db`;
  const first = new CliProcess(['serve', '--port', String(await freePort()), '--store', store]);
  try {
    await first.waitFor(/listening/, 30_000);
    const second = await runCli(['serve', '--port', String(await freePort()), '--store', store]);
    assert.is(second.code, 3);
    assert.is(second.stdout, '');
    assert.is(
      second.stderr,
      `taskctl: ${store} is in use by another taskctl server (pid ${first.child.pid}); two servers on one sqlite file would not hear each other's cancels: stop it, or give this one its own --store (servers share Redis or PostgreSQL)\n`,
    );
    first.kill('SIGKILL');
    await first.exited;
    // Killed, it could not give the lock back: the next server takes it over.
    const next = new CliProcess(['serve', '--port', String(await freePort()), '--store', store]);
    await next.waitFor(/listening/, 30_000);
    next.kill('SIGTERM');
    assert.is((await next.exited).code, 0);
    assert.not.ok(existsSync(`${dir.path}/taskctl.db.lock`), 'a server that stops gives the file back');
  } finally {
    first.kill('SIGKILL');
    dir.remove();
  }
});

test.run();
