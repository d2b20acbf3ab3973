import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { z } from 'zod';
import { TaskctlClient } from '../../client/client.ts';
import { formatDuration } from '../../core/duration.ts';
import { printable } from '../../core/printable.ts';
import { DEFAULT_WATCH_TIMEOUT_MS, MAX_IDS_PER_WATCH, MAX_PARENTS_PER_TASK, MAX_SCHEDULE_AHEAD_MS, MAX_WATCH_TIMEOUT_MS } from '../../protocol/limits.ts';
import { taskIdSchema } from '../../protocol/schemas.ts';
import { initialWorkState, WorkStore } from '../../worker/work-state.ts';
import { runWork } from '../../worker/worker.ts';
import { readClientTls, resolveClientOptions } from '../client-options.ts';
import { type CommandContext, UsageError } from '../context.ts';
import { durationOptionSchema, clientTokenSchema, serverUrlSchema, validateOptions, wantsTui } from '../options.ts';
import { keepFailedOutput, printJsonEvents, printPlainEvents } from '../work-output.ts';
import type { WorkArgs } from './work.ts';

const optionsSchema = z
  .object({
    ids: z.array(taskIdSchema).min(1).max(MAX_IDS_PER_WATCH, `at most ${MAX_IDS_PER_WATCH} ids`),
    server: serverUrlSchema,
    token: clientTokenSchema,
    grace: durationOptionSchema,
    timeout: durationOptionSchema
      .pipe(
        z
          .number()
          .min(1, 'must be positive')
          .max(MAX_SCHEDULE_AHEAD_MS, `at most ${formatDuration(MAX_SCHEDULE_AHEAD_MS)}`),
      )
      .optional(),
    watchTimeout: durationOptionSchema.pipe(
      z
        .number()
        .min(1_000, 'at least 1s')
        .max(MAX_WATCH_TIMEOUT_MS, `at most ${formatDuration(MAX_WATCH_TIMEOUT_MS)}`),
    ),
    parent: z.array(taskIdSchema).max(MAX_PARENTS_PER_TASK, `at most ${MAX_PARENTS_PER_TASK} parents`),
  })
  .superRefine((options, ctx) => {
    // The server refuses it too; said here, it is a usage error before anything starts.
    const own = options.parent.find((parent) => options.ids.includes(parent));
    if (own !== undefined) ctx.addIssue({ code: 'custom', path: ['parent'], message: `${JSON.stringify(own)} is one of the tasks it would be the parent of` });
  });

function isFileHere(id: string): boolean {
  try {
    return statSync(id).isFile();
  } catch {
    return false;
  }
}

function isRunnableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * The first of `words` that names a program on `env`'s PATH, and where (the first folder that has it). A
 * word with a "/" is a path, not looked up. Each folder is read once, so 10,000 ids cost what ten do.
 */
function firstCommandOnPath(words: readonly string[], env: NodeJS.ProcessEnv): { word: string; path: string } | undefined {
  const wanted = new Set(words.filter((word) => !word.includes('/')));
  if (wanted.size === 0) return undefined;
  const extensions = process.platform === 'win32' ? ['', ...(env.PATHEXT ?? '.EXE;.CMD;.BAT').toLowerCase().split(';')] : [''];
  const found = new Map<string, string>();
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    let names: string[];
    try {
      names = dir === '' ? [] : readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      for (const extension of extensions) {
        const word = name.slice(0, name.length - extension.length);
        if (name.toLowerCase().endsWith(extension) && wanted.has(word) && !found.has(word) && isRunnableFile(join(dir, name))) found.set(word, join(dir, name));
      }
    }
  }
  const word = words.find((w) => found.has(w));
  return word === undefined ? undefined : { word, path: found.get(word)! };
}

/** --parent, repeated or not, else TASKCTL_PARENT (one id), else none. */
function parentsFrom(args: WorkArgs, env: NodeJS.ProcessEnv): string[] {
  if (args.parent !== undefined) return [...new Set([args.parent].flat().map(String))];
  return env.TASKCTL_PARENT ? [env.TASKCTL_PARENT] : [];
}

export async function runWorkCommand(args: WorkArgs, { stdout, stderr, stdin, env, shutdown, interrupt }: CommandContext): Promise<number> {
  const command = args['--']?.map(String);
  const hasCommand = command !== undefined && command.length > 0;
  // `work job1 train.sh` would quietly watch a task named train.sh: a file here is most likely the command.
  // Asked before the ids are checked, so that `work job1 ./train.sh` gets this rather than "contains /".
  const ids = [...new Set(args.ids.map(String))];
  const file = hasCommand ? undefined : ids.find(isFileHere);
  if (file !== undefined) {
    const others = ids.filter((id) => id !== file);
    throw new UsageError(
      `"${printable(file)}" is a file here, not a task id: to run it, put it after --: taskctl work ${others.length > 0 ? others.map((id) => printable(id)).join(' ') : 'ID'} -- ${printable(file.includes('/') ? file : `./${file}`)}`,
    );
  }
  const options = validateOptions(optionsSchema, {
    ...resolveClientOptions(args, env),
    ids,
    grace: args.grace,
    timeout: args.timeout,
    watchTimeout: args.watchTimeout,
    parent: parentsFrom(args, env),
  });
  // `work x1 sleep 600` watches three tasks, one of them named sleep: likely, but not surely, a forgotten
  // "--" (a task may be called test or make), so a warning that goes on rather than a refusal.
  const program = hasCommand ? undefined : firstCommandOnPath(options.ids, env);
  if (program !== undefined) {
    const at = options.ids.indexOf(program.word);
    const before = options.ids.slice(0, at);
    stderr.write(
      `taskctl: warning: "${printable(program.word)}" is a command (${printable(program.path)}), watched here as a task id; to run it, put it after --: taskctl work ${before.length > 0 ? before.join(' ') : 'ID'} -- ${options.ids.slice(at).join(' ')}\n`,
    );
  }
  const client = new TaskctlClient({ ...options, ...readClientTls(args, env) });
  const store = new WorkStore(initialWorkState(client.server, options.ids, hasCommand ? 'command' : 'watch', Date.now()));
  // q or Ctrl-C on the screen stops the work the way SIGINT does, and a second one forces as a second SIGINT.
  const quit = new AbortController();
  const onQuit = interrupt ?? ((reason: string) => quit.abort(reason));
  const tui = wantsTui(stdout, env, args);
  // The screen shows a row's last line only: a failed command's last lines are printed once it is gone.
  const printFailedOutput = tui ? keepFailedOutput(store, stderr) : undefined;
  const stopRendering = tui
    ? await import('../../ui/render-work.tsx').then((ui) => ui.renderWork(store, { stdout, stderr, stdin }, onQuit))
    : args.json
      ? printJsonEvents(store, stdout)
      : printPlainEvents(store, stdout, stderr);
  try {
    return await runWork({
      client,
      store,
      command: hasCommand ? command : undefined,
      graceMs: options.grace,
      taskTimeoutMs: options.timeout,
      watchTimeoutMs: options.watchTimeout,
      parents: options.parent,
      env,
      shutdown: AbortSignal.any([shutdown, quit.signal]),
      progress: args.progress,
    });
  } finally {
    await stopRendering();
    printFailedOutput?.();
    // The screen or the event lines said it too; this is the one line a script's log will show.
    if (store.state.refusal !== undefined) stderr.write(`taskctl: ${printable(store.state.refusal)}\n`);
    if (store.state.rejection !== undefined) stderr.write(`taskctl: ${printable(store.state.rejection)}\n`);
  }
}
