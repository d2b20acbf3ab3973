import { useWindowSize } from 'ink';
import { useEffect, useRef, useState } from 'react';
import type { ServeActivity } from '../server/serve-activity.ts';
import { draw, type ScreenIo } from './draw.ts';
import { ServeScreen } from './serve-screen.tsx';
import { useStoreState } from './use-store-state.ts';

/** Where the screen reads the server's gauges, once a second. */
export interface ServeGauges {
  readonly openWatches: () => number;
  readonly trackedTasks?: () => Promise<number>;
}

interface Rates {
  readonly openWatches: number;
  readonly trackedTasks?: number;
  readonly cancelsPerSecond: number;
  readonly watchesPerSecond: number;
  readonly now: number;
}

/** Samples the counters once a second and turns them into per-second rates. */
function useRates(activity: ServeActivity, gauges: ServeGauges): Rates {
  const previous = useRef({ at: Date.now(), cancels: activity.state.cancelsTotal, watches: activity.state.watchesAnsweredTotal });
  const tracked = useRef<number | undefined>(undefined);
  const [rates, setRates] = useState<Rates>({ openWatches: gauges.openWatches(), cancelsPerSecond: 0, watchesPerSecond: 0, now: Date.now() });
  useEffect(() => {
    const timer = setInterval(() => {
      const now = Date.now();
      const { cancelsTotal, watchesAnsweredTotal } = activity.state;
      const seconds = Math.max(0.001, (now - previous.current.at) / 1_000);
      // Read in the background: the count shows a second late rather than holding the screen.
      gauges.trackedTasks?.().then(
        (count) => (tracked.current = count),
        () => (tracked.current = undefined),
      );
      setRates({
        openWatches: gauges.openWatches(),
        ...(tracked.current === undefined ? {} : { trackedTasks: tracked.current }),
        cancelsPerSecond: (cancelsTotal - previous.current.cancels) / seconds,
        watchesPerSecond: (watchesAnsweredTotal - previous.current.watches) / seconds,
        now,
      });
      previous.current = { at: now, cancels: cancelsTotal, watches: watchesAnsweredTotal };
    }, 1_000);
    return () => clearInterval(timer);
  }, [activity, gauges]);
  return rates;
}

/** The serve screen kept up to date: activity, rates and the terminal's size (it follows resizes). */
export function ServeApp({ activity, gauges }: { readonly activity: ServeActivity; readonly gauges: ServeGauges }) {
  const state = useStoreState(activity, 200);
  const rates = useRates(activity, gauges);
  const { columns, rows } = useWindowSize();
  return <ServeScreen state={state} {...rates} now={Math.max(rates.now, Date.now())} columns={columns} rows={rows} />;
}

/** Draws the serve dashboard until the returned function takes it down. Ctrl-C stays a signal. */
export function renderServe(activity: ServeActivity, gauges: ServeGauges, io: Omit<ScreenIo, 'stdin'>): () => void {
  const takeDown = draw(<ServeApp activity={activity} gauges={gauges} />, io, 5);
  // Taken down at once; the server goes on stopping without waiting for Ink to settle.
  return () => void takeDown();
}
