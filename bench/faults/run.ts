// npm run faults [-- --seed N] [--quick] [--plan] [--json] [--only NAME] [--keep] [--build] [--help]
// Seeded faults against the real binary: every cancel a server acknowledged must reach its worker.
// Progress goes to stderr; the figures (or, with --json, one line of them) to stdout.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { summarize } from './check.ts';
import { planTopology } from './plan.ts';
import { killAll, taskctlCommand } from './processes.ts';
import { type TopologyResult, SETTLE_MS, runTopology } from './run-topology.ts';
import { TOPOLOGIES } from './topologies.ts';

interface Options {
  readonly seed: number;
  readonly quick: boolean;
  readonly plan: boolean;
  readonly json: boolean;
  readonly only: string | undefined;
  /** Keep the scratch dir (logs, stores) after a passing run too. */
  readonly keep: boolean;
  /** Build the bundle even when dist/ is newer than src/. */
  readonly build: boolean;
}

const USAGE = `npm run faults [-- OPTIONS]: seeded faults against the real binary (docs/reliability.md)
  --seed N      the plan's seed (0 to 4294967295); drawn when not given, and printed
  --quick       40 s of faults per topology instead of 150 s
  --only NAME   one topology: ${TOPOLOGIES.map((topology) => topology.name).join(', ')} (default: all, one after the other)
  --plan        print the plan as one line of JSON, without running it
  --json        print the figures as one line of JSON
  --keep        keep the scratch dir (logs, stores) after a passing run too
  --build       build the bundle even when dist/taskctl.mjs is newer than src/ (it is built when missing or older)
  --help        this text
`;

function parseOptions(argv: readonly string[]): Options {
  const known = new Set(['--seed', '--quick', '--plan', '--json', '--only', '--keep', '--build', '--help']);
  for (const arg of argv) if (arg.startsWith('--') && !known.has(arg)) throw new UsageError(`unknown option ${arg}`);
  const valueAfter = (flag: string) => {
    const at = argv.indexOf(flag);
    if (at < 0) return undefined;
    const value = argv[at + 1];
    if (value === undefined || value.startsWith('--')) throw new UsageError(`${flag} needs a value`);
    return value;
  };
  const seedText = valueAfter('--seed');
  if (seedText !== undefined && !/^\d{1,10}$/.test(seedText))
    throw new UsageError(`--seed must be a whole number from 0 to 4294967295, not ${JSON.stringify(seedText)}`);
  const seed = seedText === undefined ? Math.floor(Math.random() * 2 ** 32) : Number(seedText);
  if (seed >= 2 ** 32) throw new UsageError('--seed must be at most 4294967295');
  const only = valueAfter('--only');
  if (only !== undefined && !TOPOLOGIES.some((topology) => topology.name === only)) {
    throw new UsageError(`--only takes one of ${TOPOLOGIES.map((topology) => topology.name).join(', ')}`);
  }
  return {
    seed,
    quick: argv.includes('--quick'),
    plan: argv.includes('--plan'),
    json: argv.includes('--json'),
    only,
    keep: argv.includes('--keep'),
    build: argv.includes('--build'),
  };
}

class UsageError extends Error {}

/** How to run this plan again. */
function replayCommand(options: Options): string {
  return `npm run faults -- --seed ${options.seed}${options.quick ? ' --quick' : ''}${options.only ? ` --only ${options.only}` : ''}`;
}

async function main(options: Options): Promise<number> {
  const topologies = TOPOLOGIES.filter((topology) => options.only === undefined || topology.name === options.only);
  const plans = new Map(topologies.map((topology) => [topology.name, planTopology(topology, options)] as const));
  if (options.plan) {
    await print(process.stdout, `${JSON.stringify({ seed: options.seed, quick: options.quick, settleMs: SETTLE_MS, topologies: [...plans.values()] })}\n`);
    return 0;
  }
  const log = (line: string) => process.stderr.write(`faults: ${line}\n`);
  log(`seed ${options.seed}${options.quick ? ' (quick)' : ''}; replay with: ${replayCommand(options)}`);
  const taskctl = taskctlCommand({ build: options.build, log });
  const scratch = mkdtempSync(join(tmpdir(), 'taskctl-faults-'));
  // Servers and workers keep their files here, never in the user's data dir, and use no server or token
  // the environment names.
  process.env.TASKCTL_DATA_DIR = scratch;
  for (const name of ['TASKCTL_SERVER', 'TASKCTL_TOKEN', 'TASKCTL_STORE', 'TASKCTL_PARENT']) delete process.env[name];

  const results = new Map<string, TopologyResult>();
  for (const topology of topologies) {
    const why = topology.unavailable(taskctl);
    if (why) {
      log(`${topology.name}: skipped, ${why}`);
      continue;
    }
    const result = await runTopology(topology, plans.get(topology.name)!, { taskctl, scratch: join(scratch, topology.name), log });
    results.set(topology.name, result);
    log(describe(topology.name, result));
    for (const line of slowest(result)) log(`  ${line}`);
  }

  const all = [...results.values()];
  const faults: Record<string, number> = {};
  for (const result of all) for (const [kind, count] of Object.entries(result.faults)) faults[kind] = (faults[kind] ?? 0) + count;
  const summary = {
    seed: options.seed,
    stores: [...results.keys()],
    acknowledged: sum(all, (result) => result.verdict.acknowledged),
    lost: sum(all, (result) => result.verdict.lost.length),
    false: sum(all, (result) => result.verdict.false.length),
    duplicates: sum(all, (result) => result.verdict.duplicates.length),
    faults,
    latency: {
      untouched: summarize(all.flatMap((result) => result.verdict.latencyMs.untouched)),
      touched: summarize(all.flatMap((result) => result.verdict.latencyMs.touched)),
    },
  };
  const problems = all.flatMap((result) => result.problems);
  const failed = summary.lost + summary.false + summary.duplicates > 0 || problems.length > 0;
  if (!failed && !options.keep) rmSync(scratch, { recursive: true, force: true });
  else log(`logs kept in ${scratch}`);
  if (options.json) await print(process.stdout, `${JSON.stringify(summary)}\n`);
  else {
    const { untouched, touched } = summary.latency;
    await print(
      process.stdout,
      `seed ${summary.seed}: ${summary.acknowledged} cancels acknowledged on ${summary.stores.join(', ')}; lost ${summary.lost}, false ${summary.false}, duplicates ${summary.duplicates}\n` +
        `faults: ${Object.entries(faults)
          .map(([kind, count]) => `${kind} ${count}`)
          .join(', ')}\n` +
        `ack -> heard, no fault: ${figures(untouched)}\n` +
        `ack -> heard, after a fault: ${figures(touched)}\n`,
    );
  }
  if (failed) {
    for (const problem of problems) log(problem);
    await print(process.stderr, `faults: FAILED with seed ${options.seed}; replay with: ${replayCommand(options)}\n`);
  }
  return failed ? 1 : 0;
}

function describe(name: string, result: TopologyResult): string {
  const { verdict } = result;
  const sample = (ids: readonly string[]) => (ids.length > 0 ? ` (${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', ...' : ''})` : '');
  return (
    `${name}: ${verdict.acknowledged} acknowledged; lost ${verdict.lost.length}${sample(verdict.lost)}, false ${verdict.false.length}${sample(verdict.false)}, ` +
    `duplicates ${verdict.duplicates.length}${sample(verdict.duplicates)}; no fault ${figures(summarize(verdict.latencyMs.untouched))}; after a fault ${figures(summarize(verdict.latencyMs.touched))}`
  );
}

/** One line per slowest cancel: when (seconds into the phase) and the faults that touched it. */
function slowest(result: TopologyResult): string[] {
  const at = (ms: number) => `${((ms - result.startMs) / 1_000).toFixed(1)}s`;
  return result.verdict.slowest.map(({ cancel, latencyMs, faults }) => {
    const touched = faults.map((fault) => `${fault.kind} ${fault.target} ${at(fault.fromMs)}-${at(fault.untilMs)}`).join(', ');
    return `slow: ${cancel.id} (${cancel.owner}, sent to ${cancel.server} at ${at(cancel.sentAtMs)}) heard after ${Math.round(latencyMs)} ms; ${touched || 'no fault'}`;
  });
}

function figures(latency: ReturnType<typeof summarize>): string {
  return `${latency.count} cancels, p50 ${latency.p50Ms} ms, p99 ${latency.p99Ms} ms, max ${latency.maxMs} ms`;
}

/**
 * Writes `text` and resolves once the stream has handed it all to the OS. Written this way, an exit that
 * follows loses nothing: a pipe takes 64 KiB at once, and process.exit drops what waited behind that (the
 * plan, about 130 KB, reached `| wc -c` as 65,536 bytes). Earlier writes on the stream go first. A failed
 * write resolves too: the stream's 'error' listener below deals with it.
 */
function print(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve) => stream.write(text, () => resolve()));
}

function sum<T>(items: readonly T[], value: (item: T) => number): number {
  return items.reduce((total, item) => total + value(item), 0);
}

// A reader that stops reading (`--plan | head`) ends the output, not with a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  killAll();
  process.exit(0);
});
// Whatever ends the run, every process it started is ended by its pid.
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

if (process.argv.includes('--help')) {
  await print(process.stdout, USAGE);
  process.exit(0);
}
let options: Options;
try {
  options = parseOptions(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  await print(process.stderr, `faults: ${error.message}\n`);
  process.exit(2);
}
// Exits when done, rather than when nothing is left to do: a run that broke down may still have a fault
// healing in the background, whose timers would keep it alive. Every output was printed (handed to the
// OS) before the exit, so a pipe still gets all of it.
main(options).then(
  (code) => process.exit(code),
  async (error: unknown) => {
    await print(
      process.stderr,
      `faults: the run broke down with seed ${options.seed}: ${error instanceof Error ? error.message : String(error)}\n` +
        `faults: replay with: ${replayCommand(options)}\n`,
    );
    process.exit(1);
  },
);
