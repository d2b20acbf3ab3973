import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CliProcess, runCli } from '../helpers/cli.ts';
import { PrivateRedis, redisTestsEnabled } from '../helpers/redis-server.ts';

const enabled = redisTestsEnabled();

test('two serve processes on one Redis: work on A hears cancel sent to B, before and after Redis restarts', async () => {
  const redis = await PrivateRedis.start();
  const serve = () => new CliProcess(['serve', '--port', '0', '--store', redis.url, '--redis-prefix', 'cli-test:', '--json', '--watch-timeout', '1m']);
  const [a, b] = [serve(), serve()];
  let worker: CliProcess | undefined;
  try {
    const urlA = JSON.parse((await a.waitFor(/^\{.*"listening".*\}$/m))[0]).url;
    const urlB = JSON.parse((await b.waitFor(/^\{.*"listening".*\}$/m))[0]).url;
    assert.match(a.stdout, /"store":"redis:redis:\/\/127\.0\.0\.1:\d+"/);
    worker = new CliProcess(['work', '1234', '5678', '--json', '--server', urlA]);
    await worker.waitFor(/"event":"connected"/);
    assert.is((await runCli(['cancel', '1234', '--server', urlB])).code, 0);
    await worker.waitFor(/"event":"cancelled".*"task":"1234"/, 2_000);

    await redis.stop();
    const refused = await runCli(['cancel', '5678', '--server', urlB]);
    assert.is(refused.code, 3, 'a cancel while Redis is down is refused, not acknowledged');
    assert.match(refused.stderr, /redis unavailable/);
    await redis.restart();
    let accepted = false;
    for (let attempt = 0; attempt < 50 && !accepted; attempt++) {
      accepted = (await runCli(['cancel', '5678', '--server', urlB])).code === 0;
      if (!accepted) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(accepted, 'B accepts cancels again once Redis is back');
    const result = await worker.exited;
    assert.is(result.code, 0);
    assert.match(result.stdout, /"event":"cancelled","ts":"[^"]+","task":"5678"/);
  } finally {
    a.kill();
    b.kill();
    worker?.kill();
    await Promise.all([a.exited, b.exited]);
    await redis.stop();
  }
});

test('serve with an unreachable Redis says so in one line and exits 3', async () => {
  const result = await runCli(['serve', '--port', '0', '--store', 'redis://127.0.0.1:9']);
  assert.is(result.code, 3);
  assert.match(result.stderr, /^taskctl: cannot reach redis:\/\/127\.0\.0\.1:9: connection refused \(is Redis running there\?\)\n$/);
});

test('serve with a database number Redis does not have says so in one line and exits 3, never falling back to database 0', async () => {
  const redis = await PrivateRedis.start();
  try {
    const result = await runCli(['serve', '--port', '0', '--store', `${redis.url}/99`]);
    assert.is(result.code, 3, result.stderr);
    assert.match(result.stderr, /^taskctl: cannot reach redis:\/\/127\.0\.0\.1:\d+\/99: .*DB index is out of range.*\n$/);
  } finally {
    await redis.stop();
  }
});

if (enabled) test.run();
