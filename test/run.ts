// Runs every test file in its own uvu process (two at a time), so one hung or crashed file cannot take
// the others down, then prints the closing line CI reads: "N passed, N failed".
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const testDir = fileURLToPath(new URL('.', import.meta.url));
const root = join(testDir, '..');
const FILE_TIMEOUT_MS = 180_000;
// Files that build executables for other platforms and run one under emulation: minutes of work on a busy
// machine. They get longer, and start first so they do not stretch the end of the run.
const SLOW_FILE_TIMEOUT_MS: Readonly<Record<string, number>> = { 'release/cross.test.ts': 420_000 };
const CONCURRENCY = 2;

function findTestFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return findTestFiles(path);
    return /\.test\.tsx?$/.test(entry.name) ? [path] : [];
  });
}

interface FileResult {
  file: string;
  passed: number;
  failed: number;
  skipped: number;
  output: string;
}

function runFile(file: string): Promise<FileResult> {
  const rel = relative(testDir, file);
  const timeoutMs = SLOW_FILE_TIMEOUT_MS[rel] ?? FILE_TIMEOUT_MS;
  const pattern = `^${rel.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--import', join(testDir, 'helpers/report-leaks.ts'), join(root, 'node_modules/uvu/bin.js'), 'test', pattern, '--no-color'],
      {
        cwd: root,
        env: { ...process.env, FORCE_COLOR: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    let lingerTimer: NodeJS.Timeout | undefined;
    const onOutput = (chunk: Buffer) => {
      output += chunk;
      // uvu has printed its summary: the file should now exit on its own. If it does not, something it
      // started is still open; say so quickly rather than after the whole timeout.
      if (!lingerTimer && /Duration:/.test(output)) {
        lingerTimer = setTimeout(() => {
          output += `\n!! ${rel} finished its tests but did not exit within 30s: something it started is still open; killed\n`;
          try {
            const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
            output += `!! its CPU time so far: ${(Number(stat[11]) + Number(stat[12])) / 100}s\n`;
          } catch {
            // Not on Linux, or already gone.
          }
          child.kill('SIGKILL');
        }, 30_000);
      }
    };
    child.stdout.on('data', onOutput);
    child.stderr.on('data', onOutput);
    const timer = setTimeout(() => {
      output += `\n!! ${rel} did not finish within ${timeoutMs / 1000}s (a server or timer left open?); killed\n`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      clearTimeout(lingerTimer);
      const plain = output.replace(/\x1b\[[0-9;]*m/g, '');
      const total = Number(/Total:\s+(\d+)/.exec(plain)?.[1] ?? 0);
      const passed = Number(/Passed:\s+(\d+)/.exec(plain)?.[1] ?? 0);
      const skipped = Number(/Skipped:\s+(\d+)/.exec(plain)?.[1] ?? 0);
      let failed = total - passed - skipped;
      // A file that crashed, hung or exited non-zero without a counted failure still fails the run.
      if (code !== 0 && failed === 0) failed = 1;
      resolve({ file: rel, passed, failed, skipped, output: plain });
    });
  });
}

const filters = process.argv.slice(2);
const files = findTestFiles(testDir)
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort((a, b) => Number(relative(testDir, b) in SLOW_FILE_TIMEOUT_MS) - Number(relative(testDir, a) in SLOW_FILE_TIMEOUT_MS) || a.localeCompare(b));
const results: FileResult[] = [];
const queue = [...files];
await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    for (let file = queue.shift(); file; file = queue.shift()) {
      const result = await runFile(file);
      results.push(result);
      const status = result.failed > 0 ? 'FAIL' : 'ok  ';
      process.stdout.write(`${status} ${result.file}  (${result.passed} passed${result.skipped ? `, ${result.skipped} skipped` : ''})\n`);
      if (result.failed > 0 || result.skipped > 0) process.stdout.write(indent(result.output));
    }
  }),
);
const sum = (key: 'passed' | 'failed' | 'skipped') => results.reduce((n, r) => n + r[key], 0);
const skipped = sum('skipped');
process.stdout.write(`\n${sum('passed')} passed, ${sum('failed')} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exitCode = sum('failed') > 0 || files.length === 0 ? 1 : 0;

function indent(text: string): string {
  return (
    text
      .split('\n')
      .map((line) => `    ${line}`)
      .join('\n') + '\n'
  );
}
