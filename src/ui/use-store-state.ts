import { useEffect, useState } from 'react';

interface Subscribable<S> {
  readonly state: S;
  subscribe(listener: () => void): () => void;
}

/**
 * The store's state, re-read at most once per `intervalMs`: a task printing thousands of lines a second
 * must not make the screen redraw thousands of times.
 */
export function useStoreState<S>(store: Subscribable<S>, intervalMs = 100): S {
  const [state, setState] = useState(store.state);
  useEffect(() => {
    let timer: NodeJS.Timeout | undefined;
    const unsubscribe = store.subscribe(() => {
      timer ??= setTimeout(() => {
        timer = undefined;
        setState(store.state);
      }, intervalMs);
    });
    setState(store.state);
    return () => {
      unsubscribe();
      clearTimeout(timer);
    };
  }, [store, intervalMs]);
  return state;
}

/** Redraws every `intervalMs` so elapsed times move; returns the time of this draw. */
export function useNow(intervalMs = 1_000): number {
  const [, setTick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setTick((tick) => tick + 1), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  // Read at draw time: a redraw caused by new state must not show a clock older than that state.
  return Date.now();
}
