/**
 * Sizes V8's young generation by what the server is doing. Answering short requests, a bigger young
 * generation means fewer collections: V8 grows it (up to 64 MB a semi-space) and a server answers a
 * tenth more requests a second. Holding thousands of long polls, almost everything allocated survives, so
 * a grown young generation buys nothing and keeps its megabytes: ~20.5 KB per held watch against ~16 KB
 * when it stays small. So it may grow while little is held, and stops growing (keeping the size it has)
 * once many watched ids or event streams are; V8's memory reducer gives back what it does not use once
 * the server goes quiet.
 *
 * The growth factor is read by V8 at every growth, so setting it in this process takes effect at once,
 * unlike the size flags, which only a second start of the process could set.
 */

/** Ids held by watches (one per per-id watch, thousands in a batched one), plus event streams, from which the young generation stops growing. */
export const MANY_HELD = 256;
// V8's own default (node --v8-options).
const V8_GROWTH_FACTOR = 2;

/**
 * A function to tell of what the server holds (ids held by watches, plus event streams); undefined (nothing to tell) when TASKCTL_NO_HEAP_TUNING=1
 * or the user sized the young generation through Node's options. `setFlags` is V8's, but for tests.
 */
export function youngGenerationByHeld(
  env: NodeJS.ProcessEnv,
  execArgv: readonly string[] = process.execArgv,
  setFlags: (flags: string) => void = process.getBuiltinModule('node:v8').setFlagsFromString,
): ((held: number) => void) | undefined {
  if (env.TASKCTL_NO_HEAP_TUNING === '1') return undefined;
  const given = `${env.NODE_OPTIONS ?? ''} ${execArgv.join(' ')}`;
  if (/--(max|min)-semi-space-size|--semi-space-growth-factor/.test(given)) return undefined;
  let growing = true;
  return (held) => {
    // Half-way back before growing again, so a count hovering at the line does not flip it each time.
    if (growing && held >= MANY_HELD) {
      setFlags('--semi-space-growth-factor=1');
      growing = false;
    } else if (!growing && held < MANY_HELD / 2) {
      setFlags(`--semi-space-growth-factor=${V8_GROWTH_FACTOR}`);
      growing = true;
    }
  };
}
