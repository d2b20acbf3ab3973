// The docs' example commands, run as a reader would run them: a fenced block after a marker comment is
// run by bash, with the built binary as `taskctl` on the PATH and nothing else of ours around it.
//   <!-- test: serve -->       the block is `taskctl serve ...`, started with --port 0 (the machine is shared)
//                              and --json added; the blocks after it talk to it through TASKCTL_SERVER
//   <!-- test: background -->  started and left running; it must have exited 0 once the page's blocks ran
//   <!-- test: run -->         must exit 0
// A page's blocks run in order in one temporary home and data dir.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ensureBinary } from '../helpers/binary.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const pages = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];
const KINDS = ['serve', 'background', 'run'] as const;
type Kind = (typeof KINDS)[number];
interface Example {
  readonly kind: Kind;
  readonly code: string;
  readonly line: number;
}

/** The marked blocks of a page, in order; a marker without a block after it, or of an unknown kind, throws. */
function examplesOf(page: string): Example[] {
  const markdown = readFileSync(join(root, page), 'utf8');
  return [...markdown.matchAll(/<!-- test: ([\w-]+) -->\n(```[^\n]*\n([\s\S]*?)^```$)?/gm)].map((match) => {
    const line = markdown.slice(0, match.index).split('\n').length;
    if (!KINDS.includes(match[1] as Kind)) throw new Error(`${page}:${line}: unknown marker "test: ${match[1]}" (known: ${KINDS.join(', ')})`);
    if (match[3] === undefined) throw new Error(`${page}:${line}: the marker is not followed by a fenced block`);
    return { kind: match[1] as Kind, code: match[3], line };
  });
}

interface Run {
  code: number | null;
  output: string;
}

function bash(code: string, env: NodeJS.ProcessEnv): { child: ChildProcess; output: () => string; done: Promise<Run> } {
  const child = spawn('bash', ['-eo', 'pipefail', '-c', code], { cwd: env.HOME, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const done = once(child, 'close').then(([code]) => ({ code: code as number | null, output }));
  return { child, output: () => output, done };
}

async function within<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(what())), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const marked = pages.map((page) => ({ page, examples: examplesOf(page) })).filter(({ examples }) => examples.length > 0);

test('the docs mark examples to run, and the README walkthrough is among them', () => {
  assert.ok(
    marked.some(({ page, examples }) => page === 'README.md' && examples.some((e) => e.kind === 'serve')),
    'README.md runs its walkthrough',
  );
});

let binary = '';
test.before(() => {
  binary = ensureBinary();
});

for (const { page, examples } of marked) {
  test(`${page}: every marked example runs as written`, async () => {
    const home = mkdtempSync(join(tmpdir(), 'taskctl-examples-'));
    symlinkSync(binary, join(home, 'taskctl'));
    const env: NodeJS.ProcessEnv = { HOME: home, PATH: `${home}:/usr/bin:/bin`, TASKCTL_DATA_DIR: join(home, 'data'), CI: '1', LANG: 'C.UTF-8' };
    const running: Array<{ example: Example; shell: ReturnType<typeof bash> }> = [];
    const where = (example: Example) => `${page}:${example.line}`;
    try {
      for (const example of examples) {
        if (example.kind === 'serve') {
          assert.match(example.code.trim(), /^taskctl serve\b[^\n]*$/, `${where(example)}: a serve block is one taskctl serve line`);
          const server = bash(`${example.code.trim()} --port 0 --json`, env);
          running.push({ example, shell: server });
          const url = await within(
            (async () => {
              for (;;) {
                const found = /"url":"(http[^"]+)"/.exec(server.output())?.[1];
                if (found) return found;
                if (server.child.exitCode !== null) throw new Error(`${where(example)}: the server exited: ${server.output()}`);
                await new Promise((resolve) => setTimeout(resolve, 50));
              }
            })(),
            30_000,
            () => `${where(example)}: the server never said where it listens: ${server.output()}`,
          );
          env.TASKCTL_SERVER = url;
        } else if (example.kind === 'background') {
          running.push({ example, shell: bash(example.code, env) });
        } else {
          const run = bash(example.code, env);
          const { code, output } = await within(run.done, 60_000, () => `${where(example)}: still running after 60s:\n${run.output()}`);
          assert.is(code, 0, `${where(example)} exited ${code}:\n${example.code}\n${output}`);
        }
      }
      for (const { example, shell } of running.filter((r) => r.example.kind === 'background')) {
        const { code, output } = await within(shell.done, 30_000, () => `${where(example)}: still running once the page's examples ran:\n${shell.output()}`);
        assert.is(code, 0, `${where(example)} exited ${code}:\n${example.code}\n${output}`);
      }
    } finally {
      // Each shell leads its own process group, so what it started stops with it.
      for (const { shell } of running) if (shell.child.exitCode === null && shell.child.signalCode === null) process.kill(-shell.child.pid!, 'SIGTERM');
      await Promise.all(running.map(({ shell }) => shell.done));
      rmSync(home, { recursive: true, force: true });
    }
  });
}

test.run();
