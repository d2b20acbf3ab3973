import { useInput, usePaste, useStdin, useWindowSize } from 'ink';
import type { TaskFeed } from '../client/task-feed.ts';
import { draw, type ScreenIo } from './draw.ts';
import { TopScreen, topLayout } from './top-screen.tsx';
import type { TopStore } from './top-state.ts';
import { useNow, useStoreState } from './use-store-state.ts';

interface TopAppProps {
  readonly feed: Pick<TaskFeed, 'state' | 'subscribe'>;
  readonly store: TopStore;
}

/**
 * The top screen kept up to date: the feed redraws it at most 10 times a second however many events
 * come (only the rows on screen are drawn), a key at once, the clock every second, and the terminal's
 * size as it changes.
 */
export function TopApp({ feed, store }: TopAppProps) {
  const feedState = useStoreState(feed, 100);
  // A key redraws at once.
  useStoreState(store, 0);
  const now = useNow();
  const { columns, rows } = useWindowSize();
  const { isRawModeSupported } = useStdin();
  // Paging moves by the rows the screen shows, under however many lines its summary takes.
  useInput((input, key) => store.press({ ...key, input }, topLayout(feedState, store.view, store.shown(), columns, rows).room, Date.now()), {
    isActive: isRawModeSupported,
  });
  // Bracketed paste: pasted text arrives whole, apart from keys, so a pasted line break is not an Enter.
  usePaste((text) => store.paste(text), { isActive: isRawModeSupported });
  return <TopScreen feed={feedState} view={store.view} shown={store.shown()} now={now} columns={columns} rows={rows} />;
}

/** Draws the top screen until the returned function takes it down. */
export function renderTop(feed: TaskFeed, store: TopStore, io: ScreenIo): () => Promise<void> {
  return draw(<TopApp feed={feed} store={store} />, io, 20);
}
