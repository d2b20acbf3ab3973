import type { BackoffPolicy } from '../core/backoff.ts';
import { ClientError, type TaskctlClient } from '../client/client.ts';
import { WatchLoop } from '../client/watch-loop.ts';
import { TaskProcess } from './task-process.ts';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Reporter } from '../client/reporter.ts';
import { explicitProgress } from '../core/progress.ts';
import { ProgressSender } from './progress-sender.ts';
import type { TaskOutcome, WorkerIdentity } from '../core/task-status.ts';
import { deadlineReason } from '../protocol/deadline.ts';
import { FINAL_STATES, type TaskState, type TaskView, type WorkEvent, type WorkState, type WorkStore, workExitCode } from './work-state.ts';

export interface WorkOptions {
  readonly client: TaskctlClient;
  /** Where every event goes; the store's state is what `work` knows. Its task list names the ids. */
  readonly store: WorkStore;
  /** The command to run once per task, or none to only watch. */
  readonly command?: readonly string[] | undefined;
  /** How long a command has between SIGTERM and SIGKILL. */
  readonly graceMs: number;
  /** A local deadline per task, handled like a cancel. */
  readonly taskTimeoutMs?: number | undefined;
  readonly watchTimeoutMs?: number | undefined;
  readonly backoff?: BackoffPolicy | undefined;
  readonly env: NodeJS.ProcessEnv;
  /** Aborts on SIGINT/SIGTERM: stop every command as on cancel, then finish. */
  readonly shutdown: AbortSignal;
  readonly now?: () => number;
  /** Who this worker is, as the server records it; defaults to this host and process. */
  readonly worker?: WorkerIdentity;
  /** How long to keep trying to deliver the last reports before exiting. */
  readonly reportFlushMs?: number;
  /** The parents of every task: a cancel of any of them (or their ancestors) stops every task. */
  readonly parents?: readonly string[] | undefined;
  /** Send each task's last output line (or its `::progress` reports) to the server (`work --progress`). */
  readonly progress?: boolean | undefined;
}

export { deadlineReason };

/** This process as a worker: host name, pid, and a random id that tells restarts apart. */
export function workerIdentity(): WorkerIdentity {
  return { id: randomUUID().slice(0, 8), host: hostname(), pid: process.pid };
}

// How a final task state is reported to the server. "stopped" is reported only when this worker was
// interrupted on purpose: a refused token or an untrusted server could not hear it anyway.
const OUTCOME: Partial<Record<TaskState, TaskOutcome>> = {
  cancelled: 'cancelled',
  succeeded: 'succeeded',
  failed: 'failed',
  timed_out: 'timed_out',
  stopped: 'stopped',
};

/**
 * Watches every task with one long poll (two at once, of a watch session, for many tasks) and, in command
 * mode, runs one command per task, stopping it when its task is cancelled or times out. Resolves with the
 * exit code once every task has ended. Whatever goes wrong inside, no command it started outlives it: each
 * is stopped (SIGTERM, SIGKILL after the grace) before the error goes on to the caller.
 */
export async function runWork(options: WorkOptions): Promise<number> {
  const processes = new Map<string, TaskProcess>();
  try {
    return await superviseWork(options, processes);
  } catch (error) {
    await Promise.all([...processes.values()].map((p) => p.stop()));
    throw error;
  }
}

async function superviseWork(options: WorkOptions, processes: Map<string, TaskProcess>): Promise<number> {
  const { client, store, graceMs } = options;
  const now = options.now ?? Date.now;
  const emit = (event: WorkEvent) => store.dispatch(event);
  const ids = [...store.state.tasks.keys()];
  const deadlines = new Map<string, () => void>();
  const isFinal = (id: string) => FINAL_STATES.has(store.state.tasks.get(id)!.state);
  const allFinal = () => ids.every(isFinal);

  let resolveAllEnded!: () => void;
  const allEnded = new Promise<void>((resolve) => (resolveAllEnded = resolve));
  // Only these events can end a task; output lines, which may come by the thousand, are not checked.
  const ending = new Set<WorkEvent['event']>(['cancelled', 'timeout', 'exited', 'interrupted', 'refused', 'rejected']);
  const unsubscribe = store.subscribe((event) => {
    if (ending.has(event.event) && allFinal()) resolveAllEnded();
  });

  const worker = options.worker ?? workerIdentity();
  const reporter = new Reporter(client, { backoff: options.backoff });
  const progress = options.progress ? new ProgressSender(client) : undefined;
  const unsubscribeProgress = progress
    ? store.subscribe((event) => {
        if (event.event === 'output') progress.output(event.task, event.line);
        else if (event.event === 'progress') progress.explicit(event.task, event.text);
      })
    : () => {};
  const reported = new Set<string>();
  const report = (task: TaskView, state: WorkState) => {
    const outcome = OUTCOME[task.state];
    if (!outcome || reported.has(task.id)) return;
    if (outcome === 'stopped' && state.stoppedBy === undefined) return;
    reported.add(task.id);
    reporter.report(task.id, {
      outcome,
      worker,
      // A task that ends before any watch got through is still known as its parents' child.
      ...(options.parents && options.parents.length > 0 ? { parents: [...options.parents] } : {}),
      ...(task.exitCode !== undefined ? { exitCode: task.exitCode } : {}),
      ...(task.signal !== undefined ? { signal: task.signal } : {}),
      ...(outcome === 'stopped' ? { stoppedBy: state.stoppedBy } : {}),
    });
  };
  const unsubscribeReports = store.subscribe((event, state) => {
    // An interrupt ends every watch-only task at once, in an event about none of them in particular.
    if ('task' in event) report(state.tasks.get(event.task)!, state);
    else if (event.event === 'interrupted') state.tasks.forEach((task) => report(task, state));
  });

  const loop = new WatchLoop(client, ids, {
    worker,
    ...(options.parents && options.parents.length > 0 ? { parents: options.parents } : {}),
    watchTimeoutMs: options.watchTimeoutMs,
    backoff: options.backoff,
    // A command starts only once the server has said its task is not cancelled already: a cancel sticks
    // to its id, and the command of a task cancelled before its worker came must never run.
    lookFirst: options.command !== undefined,
    listener: {
      connected: () => emit({ event: 'connected', ts: now() }),
      reconnected: () => emit({ event: 'reconnected', ts: now() }),
      disconnected: (error, attempt, retryInMs) => emit({ event: 'disconnected', ts: now(), error: error.message, attempt, retryInMs }),
      answered: () => emit({ event: 'answered', ts: now() }),
      cancelled: (record) => {
        if (isFinal(record.id)) return;
        // The server made the cancel this worker registered as its deadline: that is a timeout.
        if (options.taskTimeoutMs !== undefined && record.reason === deadlineReason(options.taskTimeoutMs)) {
          emit({ event: 'timeout', ts: now(), task: record.id, afterMs: options.taskTimeoutMs });
        } else {
          const notStarted = options.command !== undefined && !processes.has(record.id);
          emit({
            event: 'cancelled',
            ts: now(),
            task: record.id,
            reason: record.reason,
            ...(record.by ? { by: record.by } : {}),
            ...(notStarted ? { notStarted } : {}),
          });
        }
        endTask(record.id);
      },
      looked: () => {
        for (const id of ids) {
          if (!isFinal(id))
            processes.set(
              id,
              startCommand(id, options.command!, options.env, graceMs, emit, now, () => endTask(id)),
            );
        }
      },
    },
  });

  /** The task is over for the watch and its deadline; stop its command if one runs. */
  const endTask = (id: string) => {
    loop.remove(id);
    deadlines.get(id)?.();
    deadlines.delete(id);
    void processes.get(id)?.stop();
  };

  for (const id of ids) {
    // Each command starts once the server has been asked (looked, above).
    emit({ event: 'watching', ts: now(), task: id });
    if (options.taskTimeoutMs !== undefined) {
      const afterMs = options.taskTimeoutMs;
      // The server keeps the deadline too, so the task is cancelled on time even if this process stalls.
      reporter.scheduleCancel(id, afterMs, deadlineReason(afterMs));
      deadlines.set(
        id,
        setLongTimeout(() => {
          if (isFinal(id)) return;
          emit({ event: 'timeout', ts: now(), task: id, afterMs });
          endTask(id);
        }, afterMs),
      );
    }
  }

  const onShutdown = () => {
    emit({ event: 'interrupted', ts: now(), signal: String(options.shutdown.reason ?? 'SIGINT') });
    ids.forEach(endTask);
  };
  if (options.shutdown.aborted) onShutdown();
  else options.shutdown.addEventListener('abort', onShutdown, { once: true });

  const stopLoop = new AbortController();
  // The loop gives up only when the server refuses this worker's token or its parents, or TLS trust
  // fails: then nothing can be heard, and every task stops as on an interrupt.
  const looping = loop.run(stopLoop.signal).catch((error: Error) => {
    if (error instanceof ClientError && error.refusesParents) emit({ event: 'rejected', ts: now(), error: error.message });
    else
      emit({
        event: 'refused',
        ts: now(),
        error: error.message,
        kind: error instanceof ClientError && error.kind === 'untrusted' ? 'untrusted' : 'unauthorized',
      });
    ids.forEach(endTask);
  });
  try {
    if (!allFinal()) await allEnded;
  } finally {
    options.shutdown.removeEventListener('abort', onShutdown);
    unsubscribe();
    stopLoop.abort();
    deadlines.forEach((cancel) => cancel());
  }
  await looping;
  await Promise.all([...processes.values()].map((p) => p.done));
  unsubscribeReports();
  unsubscribeProgress();
  await progress?.close(2_000);
  const unreported = await reporter.flush(options.reportFlushMs ?? 5_000);
  client.close();
  const exitCode = workExitCode(store.state);
  emit(unreported.length > 0 ? { event: 'done', ts: now(), exitCode, unreported } : { event: 'done', ts: now(), exitCode });
  return exitCode;
}

// Node's timers hold at most 2^31-1 ms (about 24.8 days); a longer delay would fire at once.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** setTimeout for any delay, however long; returns the function that cancels it. */
function setLongTimeout(fn: () => void, ms: number): () => void {
  let timer: NodeJS.Timeout;
  const arm = (left: number) => {
    timer = setTimeout(() => (left > MAX_TIMER_MS ? arm(left - MAX_TIMER_MS) : fn()), Math.min(left, MAX_TIMER_MS));
  };
  arm(ms);
  return () => clearTimeout(timer);
}

function startCommand(
  id: string,
  command: readonly string[],
  env: NodeJS.ProcessEnv,
  graceMs: number,
  emit: (event: WorkEvent) => void,
  now: () => number,
  onExit: () => void,
): TaskProcess {
  // The worker's token is not the command's: a build script, or whatever it runs, need not be able to
  // watch, report or cancel as this worker.
  const { TASKCTL_TOKEN: _token, ...commandEnv } = env;
  return new TaskProcess(command, { ...commandEnv, TASKCTL_TASK_ID: id }, graceMs, {
    started: (pid) => emit({ event: 'started', ts: now(), task: id, pid }),
    output: (stream, line) => {
      // `::progress TEXT` is the command talking to taskctl, not output.
      const text = explicitProgress(line);
      if (text !== undefined) emit({ event: 'progress', ts: now(), task: id, text });
      else emit({ event: 'output', ts: now(), task: id, stream, line });
    },
    killing: (signal) => emit({ event: 'killing', ts: now(), task: id, signal, ...(signal === 'SIGTERM' ? { graceMs } : {}) }),
    exited: (code, signal, error) => {
      emit({ event: 'exited', ts: now(), task: id, code, signal, ...(error ? { error } : {}) });
      onExit();
    },
  });
}
