// Loaded into every test process by test/run.ts: once uvu has printed its summary, a process that is
// still alive a few seconds later lists what keeps it alive, so a leak names itself.
const write = process.stdout.write.bind(process.stdout);
let armed = false;
process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  if (!armed && String(chunk).includes('Duration:')) {
    armed = true;
    setTimeout(() => {
      const handles = (process as unknown as { _getActiveHandles(): Array<Record<string, unknown>> })._getActiveHandles();
      const described = handles.map((h) => {
        const name = (h.constructor as { name: string }).name;
        const detail = [h.spawnfile, h.pid, h.remoteAddress, h.remotePort, h.localPort].filter((v) => v !== undefined && v !== null).join(' ');
        return `${name}${detail ? ` (${detail})` : ''}`;
      });
      process.stderr.write(`\n!! still open after the tests: ${JSON.stringify(process.getActiveResourcesInfo())}\n!! handles: ${described.join(', ')}\n`);
    }, 5_000).unref();
  }
  return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stdout.write;
