/**
 * Wraps `work` so that it never runs twice at once. A call while it runs does not start another run at
 * once, nor does it share the running one (which may have started too early to see what the caller
 * expects): it gets the next run, which starts when the current one ends and is shared by every caller
 * that asked meanwhile.
 */
export function coalesced<T>(work: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  let next: Promise<T> | undefined;
  const start = (): Promise<T> => {
    const run = work().finally(() => {
      if (running === run) running = undefined;
    });
    running = run;
    return run;
  };
  return () => {
    if (!running) return start();
    next ??= running
      .then(
        () => undefined,
        () => undefined,
      )
      .then(() => {
        next = undefined;
        return start();
      });
    return next;
  };
}
