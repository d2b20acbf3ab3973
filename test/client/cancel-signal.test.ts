import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cancelSignal, TaskCancelledError } from '../../src/index.ts';
import { eventually, startTestServer } from '../helpers/server.ts';
import { freePort } from '../helpers/tcp-proxy.ts';

test('cancelSignal aborts with the reason when the task is cancelled', async () => {
  const server = await startTestServer();
  const signal = cancelSignal('export-7', { server: server.url });
  await eventually(() => server.openWatches() === 1, 'the watch');
  assert.is(signal.aborted, false);
  await server.canceler.cancel('export-7', { reason: 'disk full' });
  await eventually(() => signal.aborted, 'the signal to abort');
  assert.instance(signal.reason, TaskCancelledError);
  assert.is(signal.reason.taskId, 'export-7');
  assert.is(signal.reason.reason, 'disk full');
  await server.close();
});

test('cancelSignal with parents aborts when a parent is cancelled, naming it; a refused parent is a fatal error', async () => {
  const server = await startTestServer();
  const signal = cancelSignal('export-9', { server: server.url, parents: ['nightly-export'] });
  await eventually(() => server.openWatches() === 1, 'the watch');
  await fetch(`${server.url}/v1/tasks/nightly-export/cancel`, {
    method: 'POST',
    body: '{"reason":"maintenance"}',
    headers: { 'content-type': 'application/json' },
  });
  await eventually(() => signal.aborted, 'the signal to abort');
  assert.instance(signal.reason, TaskCancelledError);
  assert.equal([signal.reason.taskId, signal.reason.reason, signal.reason.parent], ['export-9', 'parent nightly-export cancelled', 'nightly-export']);
  assert.is(signal.reason.message, 'task export-9 was cancelled: parent nightly-export cancelled');

  const errors: Error[] = [];
  const own = cancelSignal('loop', { server: server.url, parents: ['loop'], onFatalError: (e) => errors.push(e) });
  await eventually(() => errors.length === 1, 'the refusal');
  assert.match(errors[0]!.message, /"loop" cannot be its own parent/);
  assert.is(own.aborted, false);
  await server.close();
});

test('cancelSignal started before its server: the listener hears of the failures, then that they ended', async () => {
  const port = await freePort();
  const heard: string[] = [];
  const signal = cancelSignal('early-1', {
    server: `http://127.0.0.1:${port}`,
    listener: { disconnected: () => heard.push('disconnected'), reconnected: () => heard.push('reconnected') },
  });
  await eventually(() => heard.includes('disconnected'), 'the listener to hear that no server answers');
  const server = await startTestServer({ port });
  await eventually(() => heard.includes('reconnected'), 'the listener to hear that the server answers now');
  await eventually(() => server.openWatches() === 1, 'the watch');
  await server.canceler.cancel('early-1');
  await eventually(() => signal.aborted, 'the signal to abort');
  await server.close();
});

test('cancelSignal stops watching when its own signal aborts', async () => {
  const server = await startTestServer();
  const done = new AbortController();
  const signal = cancelSignal('export-8', { server: server.url, signal: done.signal });
  await eventually(() => server.openWatches() === 1, 'the watch');
  done.abort();
  await eventually(() => server.openWatches() === 0, 'the watch to be dropped');
  assert.is(signal.aborted, false);
  await server.close();
});

test.run();
