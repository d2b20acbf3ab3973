import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunningServer } from '../../src/server/listen.ts';
import { startTestServer } from '../helpers/server.ts';

let server: RunningServer;
test.before(async () => {
  server = await startTestServer({ token: 's3cret', watchTimeoutMs: 1_000 });
});
test.after(() => server.close());

const withToken = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

test('/ping and /healthz answer without a token', async () => {
  assert.is((await fetch(`${server.url}/ping`)).status, 200);
  assert.is((await fetch(`${server.url}/healthz`)).status, 200);
});

test('every other route, seed routes included, needs the token', async () => {
  for (const path of ['/cancel-task/a1', '/watch-task/a1', '/v1/tasks/a1', '/v1/watch?ids=a1', '/metrics']) {
    const missing = await fetch(server.url + path);
    assert.is(missing.status, 401, path);
    assert.is(missing.headers.get('www-authenticate'), 'Bearer');
    assert.is((await missing.json()).error.code, 'unauthorized');
    assert.is((await fetch(server.url + path, withToken('wrong'))).status, 401, `${path} with a wrong token`);
    assert.is((await fetch(server.url + path, withToken('s3cre'))).status, 401, `${path} with a prefix of the token`);
  }
  const task = await (await fetch(`${server.url}/v1/tasks/a1`, withToken('s3cret'))).json();
  assert.is(task.cancelled, false, 'refused cancels stored nothing');
});

test('the right token works', async () => {
  assert.is(await (await fetch(`${server.url}/cancel-task/a2`, withToken('s3cret'))).text(), 'ok');
  assert.is(await (await fetch(`${server.url}/watch-task/a2`, withToken('s3cret'))).text(), 'true');
});

test.run();
