import type { WorkStore } from '../worker/work-state.ts';

/** Draws the live work screen until the returned stop is called. (Placeholder until the Ink screen lands.) */
export async function renderWork(store: WorkStore, io: { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream }): Promise<() => Promise<void>> {
  const { printPlainEvents } = await import('../cli/work-output.ts');
  const stop = printPlainEvents(store, io.stdout, io.stderr);
  return async () => {
    stop();
  };
}
