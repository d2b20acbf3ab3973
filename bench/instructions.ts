// Per-request cost as instructions, counted by valgrind's callgrind in the server while a keep-alive client
// sends requests: the same count for the same binary and requests whatever else the machine is doing,
// where wrk's requests per second on a shared host move by a third between runs of one server.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { binary, median, pinnedNode, ratio, scratch, serverFrom, track, version } from './harness.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const CLIENTS = 8;

/** valgrind with callgrind is installed (Debian: valgrind). */
export function callgrindAvailable(): boolean {
  try {
    execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
    execFileSync('callgrind_control', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Instructions the server spends per request on `path`, under callgrind: `warm` requests first (V8 is
 * still compiling the request path through the first ten thousand or so), then `rounds` windows of
 * `count` requests counted each; the median window. Counting is off outside the windows.
 */
async function serverInstructions(server: 'taskctl' | 'bare', path: 'ping' | 'watch-cancelled', warm: number, count: number, rounds: number): Promise<number> {
  const out = join(scratch, `callgrind-${server}-${path}.out`);
  const command =
    server === 'taskctl'
      ? [binary, 'serve', '--port', '0', '--store', `sqlite:${join(scratch, `callgrind-${path}.db`)}`, '--watch-timeout', '30s', '--json', '--no-tui']
      : [pinnedNode, join(here, 'bare-server.mjs'), version, 'answer'];
  // Valgrind takes seconds to start a Node.
  const running = await serverFrom(
    track(spawn('valgrind', ['--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${out}`, ...command], { stdio: ['ignore', 'pipe', 'ignore'] })),
    `${server} under valgrind`,
    120_000,
  );
  const { url } = running;
  const target = `${url}${path === 'ping' ? '/ping' : '/watch-task/already-cancelled'}`;
  if (path === 'watch-cancelled') await (await fetch(`${url}/cancel-task/already-cancelled`)).arrayBuffer();
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
  const one = () =>
    new Promise<void>((resolve, reject) => {
      get(target, { agent }, (res) => {
        res.resume();
        res.on('end', resolve);
      }).on('error', reject);
    });
  const send = async (n: number) => {
    let left = n;
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (left-- > 0) await one();
      }),
    );
  };
  const control = (...args: string[]) => execFileSync('callgrind_control', [...args, String(running.pid)], { stdio: 'ignore' });
  try {
    await send(warm);
    const windows: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      control('--zero');
      control('--instr=on');
      await send(count);
      control('--instr=off');
      control('--dump');
      const dumped = readFileSync(`${out}.${round}`, 'utf8');
      windows.push(Number(/^totals: (\d+)/m.exec(dumped)?.[1] ?? Number.NaN) / count);
    }
    return Math.round(median(windows));
  } finally {
    agent.destroy();
    await running.stop();
  }
}

/** Instructions per request on taskctl (default settings, sqlite) and the bare server, and their ratio. */
export async function instructionsAgainstBare(path: 'ping' | 'watch-cancelled', warm = 20_000, count = 5_000, rounds = 3) {
  const taskctl = await serverInstructions('taskctl', path, warm, count, rounds);
  const bare = await serverInstructions('bare', path, warm, count, rounds);
  return { path, taskctl, bare, ratio: ratio(taskctl, bare) };
}
