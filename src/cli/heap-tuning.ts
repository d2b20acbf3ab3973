/**
 * Keeps V8's young generation at its starting size for a server. A server holding thousands of long polls
 * keeps most of what it allocates; V8 then grows its young generation up to 32 MB a semi-space and keeps
 * it, a quarter of the RSS at 10,000 watches (~20.5 -> ~15 KB per held watch measured). Stopping the growth
 * early, in this process, costs no throughput measurable under wrk and no second start of the process.
 * Skipped when TASKCTL_NO_HEAP_TUNING=1, or when the user sized the young generation through Node's options.
 */
export function keepYoungGenerationSmall(env: NodeJS.ProcessEnv): void {
  if (env.TASKCTL_NO_HEAP_TUNING === '1') return;
  const given = `${env.NODE_OPTIONS ?? ''} ${process.execArgv.join(' ')}`;
  if (/--(max|min)-semi-space-size|--semi-space-growth-factor/.test(given)) return;
  // Read at every growth of the young generation, so it applies from here on, unlike the size flags.
  process.getBuiltinModule('node:v8').setFlagsFromString('--semi-space-growth-factor=1');
}
