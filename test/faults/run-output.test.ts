// The suite's own output read as a script reads it: through a pipe, from a real child process, to the end.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Runs `bench/faults/run.ts` with `args`, its stdout a real pipe (a FIFO: a pipe buffers 64 KiB, a
 * socketpair, which is what `stdio: 'pipe'` makes, far more), and resolves with all it wrote and its exit
 * code. The pipe is read only once the suite has exited, or after 10 s, as `| (sleep 1; wc -c)` reads it:
 * what the suite still held in its own buffer when it exited is then lost, not raced for.
 */
async function runSuite(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'taskctl-faults-pipe-'));
  const fifo = join(dir, 'stdout');
  execFileSync('mkfifo', [fifo]);
  // The read end first, without waiting for a writer; then the write end opens at once.
  const readEnd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const writeEnd = openSync(fifo, constants.O_WRONLY);
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/faults/run.ts', ...args], { cwd: root, stdio: ['ignore', writeEnd, 'pipe'] });
  closeSync(writeEnd);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit');
  let waited: NodeJS.Timeout | undefined;
  await Promise.race([exited, new Promise((resolve) => (waited = setTimeout(resolve, 10_000)))]);
  clearTimeout(waited);
  const reader = new Socket({ fd: readEnd, readable: true, writable: false });
  let stdout = '';
  reader.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  await once(reader, 'end');
  reader.destroy();
  const [code] = await exited;
  rmSync(dir, { recursive: true, force: true });
  return { code, stdout, stderr };
}

test('--plan through a pipe: the whole plan arrives (it is larger than a pipe holds), and the same seed prints the same plan', async () => {
  const args = ['--plan', '--quick', '--seed', '20261208'];
  const first = await runSuite(args);
  assert.is(first.code, 0, first.stderr);
  // Larger than the 64 KiB a pipe buffers: an exit before the pipe drained cut it there.
  assert.ok(first.stdout.length > 65_536, `${first.stdout.length} bytes`);
  assert.ok(first.stdout.endsWith('}\n'), 'one line, ended');
  const plan = JSON.parse(first.stdout);
  assert.is(plan.seed, 20261208);
  assert.equal(
    plan.topologies.map((topology: { topology: string }) => topology.topology),
    ['sqlite', 'redis', 'postgres'],
  );
  assert.ok(
    plan.topologies.every((topology: { cancels: unknown[]; faults: unknown[] }) => topology.cancels.length > 0 && topology.faults.length > 0),
    'every topology has cancels and faults',
  );
  const again = await runSuite(args);
  assert.is(again.stdout, first.stdout, 'the same seed, the same plan');
});

test('a usage error is one line on stderr and exit 2', async () => {
  const result = await runSuite(['--seed', 'soon']);
  assert.is(result.code, 2);
  assert.is(result.stdout, '');
  assert.match(result.stderr, /^faults: --seed must be a whole number from 0 to 4294967295, not "soon"\n$/);
});

test.run();
