import { useApp, useInput, useStdin, useWindowSize } from 'ink';
import { useEffect } from 'react';
import type { WorkStore } from '../worker/work-state.ts';
import { draw, type ScreenIo } from './draw.ts';
import { useNow, useStoreState } from './use-store-state.ts';
import { WorkScreen } from './work-screen.tsx';

interface WorkAppProps {
  readonly store: WorkStore;
  readonly onQuit: (reason: 'quit' | 'SIGINT') => void;
}

/** The work screen kept up to date: the store's state, the clock and the terminal's size (it follows resizes). */
export function WorkApp({ store, onQuit }: WorkAppProps) {
  const state = useStoreState(store);
  const now = useNow();
  const { columns, rows } = useWindowSize();
  const { exit } = useApp();
  const { isRawModeSupported } = useStdin();
  useInput(
    (input, key) => {
      // The first stops the commands gracefully; a second, either key, forces (onQuit decides).
      if (input === 'q') onQuit('quit');
      if (key.ctrl && input === 'c') onQuit('SIGINT');
    },
    // Without a terminal on stdin there are no keys to read; signals still work.
    { isActive: isRawModeSupported },
  );
  useEffect(() => {
    if (state.exitCode !== undefined) exit();
  }, [state.exitCode, exit]);
  return <WorkScreen state={state} now={now} columns={columns} rows={rows} />;
}

/** Draws the live work screen; the returned function waits for its last frame and takes it down. */
export function renderWork(store: WorkStore, io: ScreenIo, onQuit: (reason: 'quit' | 'SIGINT') => void): () => Promise<void> {
  const takeDown = draw(<WorkApp store={store} onQuit={onQuit} />, io, 10);
  return async () => {
    // Let the final state reach the screen before leaving it in place.
    await new Promise((resolve) => setTimeout(resolve, 150));
    await takeDown();
  };
}
