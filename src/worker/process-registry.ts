// Every command `work` starts is registered here until it exits, so that whatever ends this process (a
// normal exit, a second Ctrl-C, an exception nobody caught) can stop the commands first: a command runs in
// a process group of its own and would otherwise live on as an orphan. No imports, so the CLI entry can
// hold it from the start at no cost.

export interface StoppableProcess {
  /** SIGTERM to the group, SIGKILL after its grace; resolves when it exited. */
  stop(): Promise<void>;
  /** SIGKILL to the group now. */
  killNow(): void;
}

const running = new Set<StoppableProcess>();

/** Registers a started command; the returned function unregisters it once it exited. */
export function trackProcess(process: StoppableProcess): () => void {
  running.add(process);
  return () => running.delete(process);
}

/** How many registered commands have not exited. */
export function runningProcesses(): number {
  return running.size;
}

/** Stops every registered command as on cancel; resolves once all have exited. */
export async function stopAllProcesses(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop()));
}

/** SIGKILLs every registered command's group at once: the last resort when this process is exiting. */
export function killAllProcessesNow(): void {
  for (const p of running) p.killNow();
}
