// What `taskctl top` shows besides the tasks themselves: which task is selected, the filters, the line
// being typed, the detail pane, the last notice. Keys move it through a pure reducer; what a key asks of
// the server (open a task's detail, cancel it) comes back as an effect for the caller to run, and its
// outcome as another action. The screen renders this state and the feed's; it never fetches.

import type { FeedState, FeedTask } from '../client/task-feed.ts';
import { TASK_LIFE_STATES, type TaskLifeState } from '../core/task-status.ts';
import type { TaskReply } from '../protocol/schemas.ts';

export interface TopView {
  /** The selected task (kept by id, so rows moving around it do not move the selection). */
  readonly selectedId?: string | undefined;
  /** The index, among the shown tasks, of the first row on screen. */
  readonly top: number;
  /** Shown: tasks whose id, worker, progress or canceller contains this (any case). */
  readonly filter: string;
  /** Shown: tasks whose row says this state only. */
  readonly stateFilter?: StateFilter | undefined;
  /** A line being typed: the filter, or the reason of a cancel waiting for confirmation. */
  readonly input?: { readonly kind: 'filter' } | { readonly kind: 'cancel'; readonly id: string; readonly reason: string } | undefined;
  /** The detail pane, open on a task: its full status once fetched. */
  readonly detail?: { readonly id: string; readonly reply?: TaskReply | undefined; readonly error?: string | undefined } | undefined;
  /** The outcome of the last action, shown on the bottom line for a while. */
  readonly notice?: { readonly text: string; readonly error: boolean; readonly at: number } | undefined;
}

export const INITIAL_VIEW: TopView = { top: 0, filter: '' };

/** What a key asks of the world outside the screen. */
export type TopEffect =
  | { readonly kind: 'open'; readonly id: string }
  | { readonly kind: 'cancel'; readonly id: string; readonly reason: string }
  | { readonly kind: 'quit' };

/** A key as Ink reports it: the text typed and the special keys held. */
export interface TopKey {
  readonly input: string;
  readonly upArrow?: boolean;
  readonly downArrow?: boolean;
  readonly pageUp?: boolean;
  readonly pageDown?: boolean;
  readonly home?: boolean;
  readonly end?: boolean;
  readonly return?: boolean;
  readonly escape?: boolean;
  readonly backspace?: boolean;
  readonly delete?: boolean;
  readonly ctrl?: boolean;
  readonly meta?: boolean;
  readonly tab?: boolean;
}

export type TopAction =
  /** A key, with how many task rows the screen has room for (for paging and scrolling). */
  | { readonly type: 'key'; readonly key: TopKey; readonly room: number; readonly now: number }
  | { readonly type: 'detail'; readonly id: string; readonly reply?: TaskReply; readonly error?: string }
  | { readonly type: 'notice'; readonly text: string; readonly error: boolean; readonly now: number }
  /** Text pasted (bracketed paste): it goes into the line being typed, whole, and is never taken as keys. */
  | { readonly type: 'paste'; readonly text: string };

/**
 * The keys in what one read delivered. A paste, fast typing over SSH or `tmux send-keys text Enter` bring
 * several at once ("more\r"): each character is a key of its own, as it would have been had it come
 * alone, and a carriage return or newline among them is Enter.
 */
export function splitKeys(key: TopKey): TopKey[] {
  const plain = !key.ctrl && !key.meta && !key.return && !key.escape && !key.tab;
  const chars = Array.from(key.input);
  if (!plain || (chars.length <= 1 && !/[\r\n\t]/.test(key.input))) return [key];
  const keys: TopKey[] = [];
  for (const [i, input] of chars.entries()) {
    if (input === '\n' && chars[i - 1] === '\r') continue;
    if (input === '\r' || input === '\n') keys.push({ input: '', return: true });
    else if (input === '\t') keys.push({ input: '', tab: true });
    else keys.push({ input });
  }
  return keys;
}

/** What a task's row says under STATE: its state, or "scheduled" for a task known only by the cancel scheduled for it. */
export type RowState = TaskLifeState | 'scheduled' | 'unknown';

/** The state `task`'s row shows, and the summary counts it under. */
export function rowState(task: FeedTask): RowState {
  return task.status?.state ?? (task.scheduledAt ? 'scheduled' : 'unknown');
}

/** A state the rows can be filtered by: every one the summary counts. */
export type StateFilter = TaskLifeState | 'scheduled';

/** The states `s` goes through: all, then each state the summary counts, in its order. */
export const STATE_CYCLE: readonly (StateFilter | undefined)[] = [undefined, ...TASK_LIFE_STATES, 'scheduled'];

// Longest filter or reason typed on the bottom line.
const MAX_TYPED = 1_024;

/** Whether `task` passes the view's filters. `needle` is the filter in lower case. */
export function taskMatches(task: FeedTask, needle: string, state: StateFilter | undefined): boolean {
  if (state !== undefined && rowState(task) !== state) return false;
  if (needle === '') return true;
  const status = task.status;
  const haystack = [
    task.id,
    status?.worker?.host,
    status?.worker ? String(status.worker.pid) : undefined,
    status?.progress?.text,
    status?.cancelledBy?.name,
    task.reason,
  ];
  return haystack.some((text) => text !== undefined && text.toLowerCase().includes(needle));
}

/** The ids shown, in id order: every task that passes the filters. Work in proportion to the tasks held. */
export function shownIds(feed: FeedState, view: Pick<TopView, 'filter' | 'stateFilter'>): string[] {
  const needle = view.filter.toLowerCase();
  const all = feed.order.page(undefined, feed.order.size);
  if (needle === '' && view.stateFilter === undefined) return all;
  return all.filter((id) => taskMatches(feed.tasks.get(id)!, needle, view.stateFilter));
}

/** Where the selection is among `shown`: its index, or the nearest valid one when it left the list. */
export function selectedIndex(view: TopView, shown: readonly string[]): number {
  if (shown.length === 0) return -1;
  const at = view.selectedId === undefined ? -1 : shown.indexOf(view.selectedId);
  return at === -1 ? Math.min(Math.max(0, view.top), shown.length - 1) : at;
}

/** The first row to show so the selection stays on screen, moving as little as possible from `view.top`. */
export function firstRow(view: TopView, shown: readonly string[], room: number): number {
  const selected = selectedIndex(view, shown);
  if (selected === -1 || room <= 0) return 0;
  let top = Math.min(view.top, Math.max(0, shown.length - room));
  if (selected < top) top = selected;
  if (selected >= top + room) top = selected - room + 1;
  return Math.max(0, top);
}

/** The view after `action`, and what it asks of the world. Pure. */
export function reduceTop(view: TopView, action: TopAction, shown: readonly string[]): { view: TopView; effect?: TopEffect } {
  switch (action.type) {
    case 'detail':
      return { view: view.detail?.id === action.id ? { ...view, detail: { id: action.id, reply: action.reply, error: action.error } } : view };
    case 'notice':
      return { view: { ...view, notice: { text: action.text, error: action.error, at: action.now } } };
    case 'key':
      return onKey(view, action.key, action.room, shown);
    case 'paste':
      // Line breaks in pasted text become spaces: a pasted line never confirms anything by itself.
      return view.input === undefined ? { view } : typing(view, view.input, { input: action.text.replace(/[\r\n\t]+/g, ' ') }, shown);
  }
}

function onKey(view: TopView, key: TopKey, room: number, shown: readonly string[]): { view: TopView; effect?: TopEffect } {
  if (key.ctrl && key.input === 'c') return { view, effect: { kind: 'quit' } };
  if (view.input !== undefined) return typing(view, view.input, key, shown);
  if (view.detail !== undefined) {
    if (key.escape || key.return || key.input === 'h') return { view: { ...view, detail: undefined } };
    if (key.input === 'q') return { view, effect: { kind: 'quit' } };
    if (key.input === 'c') return askCancel(view, view.detail.id);
    return { view };
  }
  const selected = selectedIndex(view, shown);
  const select = (index: number) => {
    if (shown.length === 0) return { view };
    const at = Math.max(0, Math.min(shown.length - 1, index));
    const next = { ...view, selectedId: shown[at]! };
    return { view: { ...next, top: firstRow(next, shown, room) } };
  };
  if (key.upArrow || key.input === 'k') return select(selected - 1);
  if (key.downArrow || key.input === 'j') return select(selected + 1);
  if (key.pageUp) return select(selected - Math.max(1, room));
  if (key.pageDown || key.input === ' ') return select(selected + Math.max(1, room));
  if (key.home || key.input === 'g') return select(0);
  if (key.end || key.input === 'G') return select(shown.length - 1);
  if (key.input === 'q') return { view, effect: { kind: 'quit' } };
  if (key.input === '/') return { view: { ...view, input: { kind: 'filter' } } };
  if (key.input === 's') {
    const next = STATE_CYCLE[(STATE_CYCLE.indexOf(view.stateFilter) + 1) % STATE_CYCLE.length];
    return { view: { ...view, stateFilter: next, top: 0 } };
  }
  if (key.escape && (view.filter !== '' || view.stateFilter !== undefined)) return { view: { ...view, filter: '', stateFilter: undefined } };
  const id = selected === -1 ? undefined : shown[selected];
  if (id === undefined) return { view };
  if (key.return) return { view: { ...view, selectedId: id, detail: { id } }, effect: { kind: 'open', id } };
  if (key.input === 'c') return askCancel({ ...view, selectedId: id }, id);
  return { view };
}

function askCancel(view: TopView, id: string): { view: TopView } {
  return { view: { ...view, input: { kind: 'cancel', id, reason: '' }, notice: undefined } };
}

/** A key while a line is typed: letters go in, enter confirms, esc leaves. */
function typing(view: TopView, input: NonNullable<TopView['input']>, key: TopKey, shown: readonly string[]): { view: TopView; effect?: TopEffect } {
  const text = input.kind === 'filter' ? view.filter : input.reason;
  const set = (next: string) =>
    input.kind === 'filter' ? { view: { ...view, filter: next, top: 0 } } : { view: { ...view, input: { ...input, reason: next } } };
  if (key.escape) return input.kind === 'filter' ? { view: { ...view, input: undefined, filter: '', top: 0 } } : { view: { ...view, input: undefined } };
  if (key.return) {
    if (input.kind === 'filter') {
      // The selection stays where it was if it still shows, else goes to the first match.
      const selectedId = view.selectedId !== undefined && shown.includes(view.selectedId) ? view.selectedId : shown[0];
      return { view: { ...view, input: undefined, selectedId } };
    }
    const reason = input.reason.trim();
    return { view: { ...view, input: undefined }, effect: { kind: 'cancel', id: input.id, reason } };
  }
  if (key.backspace || key.delete) return set(Array.from(text).slice(0, -1).join(''));
  if (key.ctrl && key.input === 'u') return set('');
  if (key.ctrl || key.meta || key.tab || key.upArrow || key.downArrow || key.pageUp || key.pageDown) return { view };
  // Pasted or typed text; control characters never get into the line.
  const typed = key.input.replace(/[\p{Cc}\p{Cf}]/gu, '');
  if (typed === '') return { view };
  return set(
    Array.from(text + typed)
      .slice(0, MAX_TYPED)
      .join(''),
  );
}

/** Holds the view and the feed together for the screen; runs each key's effect through `effects`. */
export class TopStore {
  #view: TopView = INITIAL_VIEW;
  readonly #feed: { readonly state: FeedState; subscribe(listener: () => void): () => void };
  readonly #effects: (effect: TopEffect) => void;
  readonly #listeners = new Set<() => void>();
  #shown: { version: number; filter: string; stateFilter: StateFilter | undefined; ids: string[] } | undefined;

  constructor(feed: { readonly state: FeedState; subscribe(listener: () => void): () => void }, effects: (effect: TopEffect) => void) {
    this.#feed = feed;
    this.#effects = effects;
  }

  get view(): TopView {
    return this.#view;
  }

  /** The view, under the name useStoreState reads. */
  get state(): TopView {
    return this.#view;
  }

  /** The ids shown for the current feed and filters; made again only when either changed. */
  shown(): string[] {
    const feed = this.#feed.state;
    const cached = this.#shown;
    if (cached && cached.version === feed.version && cached.filter === this.#view.filter && cached.stateFilter === this.#view.stateFilter) return cached.ids;
    const ids = shownIds(feed, this.#view);
    this.#shown = { version: feed.version, filter: this.#view.filter, stateFilter: this.#view.stateFilter, ids };
    return ids;
  }

  /** What one read delivered, as Ink reports it: key by key (see splitKeys). */
  press(key: TopKey, room: number, now: number): void {
    for (const one of splitKeys(key)) this.dispatch({ type: 'key', key: one, room, now });
  }

  /** Text pasted in bracketed paste mode. */
  paste(text: string): void {
    this.dispatch({ type: 'paste', text });
  }

  dispatch(action: TopAction): void {
    const { view, effect } = reduceTop(this.#view, action, this.shown());
    if (view !== this.#view) {
      this.#view = view;
      for (const listener of this.#listeners) listener();
    }
    if (effect) this.#effects(effect);
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
