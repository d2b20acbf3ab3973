import { render, useWindowSize } from 'ink';
import { useEffect, useRef, useState } from 'react';
import type { ServeActivity } from '../server/serve-activity.ts';
import { eraseOnNarrowing } from './erase-on-narrowing.ts';
import { ServeScreen } from './serve-screen.tsx';
import { useStoreState } from './use-store-state.ts';

interface Rates {
  readonly openWatches: number;
  readonly cancelsPerSecond: number;
  readonly watchesPerSecond: number;
  readonly now: number;
}

/** Samples the counters once a second and turns them into per-second rates. */
function useRates(activity: ServeActivity, openWatches: () => number): Rates {
  const previous = useRef({ at: Date.now(), cancels: activity.state.cancelsTotal, watches: activity.state.watchesAnsweredTotal });
  const [rates, setRates] = useState<Rates>({ openWatches: openWatches(), cancelsPerSecond: 0, watchesPerSecond: 0, now: Date.now() });
  useEffect(() => {
    const timer = setInterval(() => {
      const now = Date.now();
      const { cancelsTotal, watchesAnsweredTotal } = activity.state;
      const seconds = Math.max(0.001, (now - previous.current.at) / 1_000);
      setRates({
        openWatches: openWatches(),
        cancelsPerSecond: (cancelsTotal - previous.current.cancels) / seconds,
        watchesPerSecond: (watchesAnsweredTotal - previous.current.watches) / seconds,
        now,
      });
      previous.current = { at: now, cancels: cancelsTotal, watches: watchesAnsweredTotal };
    }, 1_000);
    return () => clearInterval(timer);
  }, [activity, openWatches]);
  return rates;
}

/** The serve screen kept up to date: activity, rates and the terminal's size (it follows resizes). */
export function ServeApp({ activity, openWatches }: { readonly activity: ServeActivity; readonly openWatches: () => number }) {
  const state = useStoreState(activity, 200);
  const rates = useRates(activity, openWatches);
  const { columns, rows } = useWindowSize();
  return <ServeScreen state={state} {...rates} now={Math.max(rates.now, Date.now())} columns={columns} rows={rows} />;
}

/** Draws the serve dashboard until the returned function takes it down. Ctrl-C stays a signal. */
export function renderServe(activity: ServeActivity, openWatches: () => number, io: { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream }): () => void {
  const instance = render(<ServeApp activity={activity} openWatches={openWatches} />, {
    stdout: io.stdout,
    stderr: io.stderr,
    exitOnCtrlC: false,
    patchConsole: false,
    maxFps: 5,
  });
  const stopErasing = eraseOnNarrowing(io.stdout);
  return () => {
    instance.unmount();
    stopErasing();
  };
}
