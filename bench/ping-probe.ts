// A process of its own that asks GET /ping every few milliseconds and keeps each answer's latency: how
// long the server makes a bystander wait while the load generator floods it. The orchestrator reads the
// figures per phase ("mark") over IPC.
import { Agent, request } from 'node:http';
import { latencyStats } from './latency-stats.ts';

interface Stats {
  count: number;
  p50: number;
  p99: number;
  max: number;
  overMs: Record<string, number>;
}

const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const TIMEOUT_MS = 5_000;
let latencies: number[] = [];
let running = false;

function ping(url: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request(`${url}/ping`, { agent, timeout: TIMEOUT_MS }, (res) => {
      res.resume();
      res.on('end', () => resolve(performance.now() - started));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(TIMEOUT_MS));
    req.end();
  });
}

function stats(values: number[]): Stats {
  const { count, p50, p99, max } = latencyStats(values, 2);
  return { count, p50, p99, max, overMs: { 20: values.filter((v) => v > 20).length, 100: values.filter((v) => v > 100).length } };
}

process.on('message', async (message: { start?: { url: string; intervalMs: number }; mark?: boolean; stop?: boolean }) => {
  if (message.start) {
    running = true;
    const { url, intervalMs } = message.start;
    void (async () => {
      while (running) {
        latencies.push(await ping(url));
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
      }
    })();
    process.send!({ started: true });
  } else if (message.mark) {
    process.send!({ stats: stats(latencies) });
    latencies = [];
  } else if (message.stop) {
    running = false;
    agent.destroy();
    process.send!({ stats: stats(latencies) });
    process.disconnect?.();
  }
});
