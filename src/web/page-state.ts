// The web page's state, with no DOM: which tasks it knows (listed, then moved by events), what the URL
// asks to see, which rows are in the window. Pure, so its rules are tested without a browser; the views
// render what it says and main.ts feeds it.

import { SortedIds } from '../core/sorted-ids.ts';
import { TASK_LIFE_STATES, type TaskLifeState } from '../core/task-status.ts';
import type { TaskEventData } from '../protocol/events.ts';
import type { TaskReply, TaskStatusReply } from '../protocol/schemas.ts';

/** One task as the page knows it: as the server last showed it. */
export interface PageTask {
  readonly id: string;
  readonly status?: TaskStatusReply | undefined;
  /** The reason of its own cancel, when the server showed the record. */
  readonly reason?: string | undefined;
  /** When a cancel is scheduled for it. */
  readonly scheduledAt?: string | undefined;
}

/** A task as a listing row or an event shows it. */
export function pageTaskOf(data: Pick<TaskReply, 'id' | 'status' | 'record' | 'scheduled'>): PageTask {
  return {
    id: data.id,
    ...(data.status ? { status: data.status } : {}),
    ...(data.record?.reason !== undefined ? { reason: data.record.reason } : {}),
    ...(data.scheduled ? { scheduledAt: data.scheduled.at } : {}),
  };
}

/** What the URL asks to see: `/?q=train-&state=running&task=ID`. */
export interface PageView {
  /** Shown: tasks whose id contains this (any case). */
  readonly q: string;
  /** Shown: tasks in this state only. */
  readonly state?: TaskLifeState | undefined;
  /** The task whose detail is open. */
  readonly task?: string | undefined;
}

// Longer than any id the server accepts; a longer ?q= matches nothing anyway.
const MAX_QUERY_CHARS = 256;

/** The view a URL's query string asks for; what it cannot mean (an unknown state) is left out. */
export function viewOfSearch(search: string): PageView {
  const query = new URLSearchParams(search);
  const q = (query.get('q') ?? '').slice(0, MAX_QUERY_CHARS);
  const state = query.get('state') ?? '';
  const task = query.get('task') ?? '';
  return {
    q,
    ...((TASK_LIFE_STATES as readonly string[]).includes(state) ? { state: state as TaskLifeState } : {}),
    ...(task !== '' ? { task: task.slice(0, MAX_QUERY_CHARS) } : {}),
  };
}

/** The query string (with its "?", or "" for the plain list) that shows `view`. */
export function searchOfView(view: PageView): string {
  const query = new URLSearchParams();
  if (view.q !== '') query.set('q', view.q);
  if (view.state !== undefined) query.set('state', view.state);
  if (view.task !== undefined) query.set('task', view.task);
  const text = query.toString();
  return text === '' ? '' : `?${text}`;
}

/** Whether `task` is shown under `view`'s search and state filter. `needle` is the search in lower case. */
export function taskShown(task: PageTask, needle: string, state: TaskLifeState | undefined): boolean {
  if (state !== undefined && task.status?.state !== state) return false;
  return needle === '' || task.id.toLowerCase().includes(needle);
}

/**
 * Every task the page knows, in id order: a listing fills it page by page, events move it. Events that
 * arrive while a listing runs wait for it and are applied after, in order, so a task ends as its latest
 * event shows it (the same rule as the terminal's task feed).
 */
export class TaskList {
  #tasks = new Map<string, PageTask>();
  #order = new SortedIds();
  /** Bumped on every change, so a view made from the list knows when it is stale. */
  version = 0;
  /** Events held while a listing runs; undefined when none runs. */
  #held: TaskEventData[] | undefined;
  /** What a listing has gathered so far; swapped in whole when it ends. */
  #listing: { tasks: Map<string, PageTask>; order: SortedIds } | undefined;
  #shown: { version: number; q: string; state: TaskLifeState | undefined; ids: string[] } | undefined;

  get size(): number {
    return this.#tasks.size;
  }

  get(id: string): PageTask | undefined {
    return this.#tasks.get(id);
  }

  /** Whether a listing runs (events are held meanwhile). */
  get listing(): boolean {
    return this.#listing !== undefined;
  }

  /**
   * Starts listing every task again (at start, or after a `reset`). While the first listing runs each page
   * shows as it comes; a listing that replaces known tasks shows them until it ends, then swaps in whole.
   */
  beginListing(): void {
    this.#held = [];
    // With nothing known yet, the listing fills the list itself, so each page shows as it comes.
    this.#listing = this.#tasks.size === 0 ? { tasks: this.#tasks, order: this.#order } : { tasks: new Map(), order: new SortedIds() };
  }

  /** One page of the listing. */
  listed(tasks: readonly PageTask[]): void {
    const listing = this.#listing;
    if (!listing) return;
    for (const task of tasks) {
      if (!listing.tasks.has(task.id)) listing.order.add(task.id);
      listing.tasks.set(task.id, task);
    }
    if (listing.tasks === this.#tasks) this.version++;
  }

  /** The listing reached its last page: it replaces what was known, then the held events apply. Returns the ids they changed. */
  endListing(): Set<string> {
    const listing = this.#listing;
    if (!listing) return new Set();
    this.#tasks = listing.tasks;
    this.#order = listing.order;
    this.#listing = undefined;
    const held = this.#held ?? [];
    this.#held = undefined;
    this.version++;
    return this.apply(held);
  }

  /** Task events in order; held while a listing runs. Returns the ids whose state changed (the rows that flash). */
  apply(events: readonly TaskEventData[]): Set<string> {
    const changed = new Set<string>();
    if (this.#held) {
      this.#held.push(...events);
      return changed;
    }
    for (const data of events) {
      const was = this.#tasks.get(data.id);
      const task = pageTaskOf(data);
      if (!was) this.#order.add(task.id);
      else if (was.status?.state === task.status?.state) {
        this.#tasks.set(task.id, task);
        continue;
      }
      this.#tasks.set(task.id, task);
      changed.add(task.id);
    }
    if (events.length > 0) this.version++;
    return changed;
  }

  /** The ids shown under `view`, in id order; made again only when the list or the filters changed. */
  shown(view: Pick<PageView, 'q' | 'state'>): readonly string[] {
    const cached = this.#shown;
    if (cached && cached.version === this.version && cached.q === view.q && cached.state === view.state) return cached.ids;
    const all = this.#order.page(undefined, this.#order.size);
    const needle = view.q.toLowerCase();
    const ids = needle === '' && view.state === undefined ? all : all.filter((id) => taskShown(this.#tasks.get(id)!, needle, view.state));
    this.#shown = { version: this.version, q: view.q, state: view.state, ids };
    return ids;
  }
}

/** The rows of a windowed list to put in the DOM: those on screen and `overscan` either side. */
export interface RowWindow {
  readonly first: number;
  /** One past the last. */
  readonly end: number;
}

/**
 * Which of `count` rows of `rowHeight` pixels, starting `listTop` pixels down the page, are in a viewport
 * scrolled to `scrollY` and `viewportHeight` tall, with `overscan` rows more either side.
 */
export function rowWindow(count: number, rowHeight: number, listTop: number, scrollY: number, viewportHeight: number, overscan = 10): RowWindow {
  if (count === 0 || rowHeight <= 0) return { first: 0, end: 0 };
  const top = Math.floor((scrollY - listTop) / rowHeight);
  const bottom = Math.ceil((scrollY - listTop + viewportHeight) / rowHeight);
  const first = Math.max(0, Math.min(count - 1, top - overscan));
  const end = Math.max(first, Math.min(count, bottom + overscan));
  return { first, end };
}

/**
 * How far to scroll so that the row `anchor` stays where it was after rows came or went above it: nothing
 * jumps under the pointer. 0 when it is gone or did not move.
 */
export function anchorShift(before: readonly string[], after: readonly string[], anchor: string | undefined, rowHeight: number): number {
  if (anchor === undefined) return 0;
  const was = before.indexOf(anchor);
  const now = after.indexOf(anchor);
  return was === -1 || now === -1 ? 0 : (now - was) * rowHeight;
}

/** A time as "12s ago" / "3m ago" / "2h ago" / "4d ago", from `iso` to `now`. */
export function ago(iso: string, now: number): string {
  const ms = Math.max(0, now - Date.parse(iso));
  if (!Number.isFinite(ms)) return '';
  const s = Math.floor(ms / 1_000);
  if (s < 60) return `${s}s ago`;
  if (s < 3_600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3_600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

/** A time yet to come as "in 9m 59s"-like text: the larger two units. */
export function fromNow(iso: string, now: number): string {
  const ms = Date.parse(iso) - now;
  if (!Number.isFinite(ms)) return '';
  if (ms <= 0) return 'now';
  const s = Math.ceil(ms / 1_000);
  if (s < 60) return `in ${s}s`;
  if (s < 3_600) return `in ${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `in ${Math.floor(s / 3_600)}h ${Math.floor((s % 3_600) / 60)}m`;
  return `in ${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3_600)}h`;
}

/** Who cancelled a task, as a row shows it: the token's name, or what the record says stopped it. */
export function cancelledByText(task: PageTask): string {
  const status = task.status;
  if (status?.cancelledBy) return status.cancelledBy.name;
  if (status?.cancelReason) return status.cancelReason;
  return '';
}

/** The states a filter offers, from the protocol's list (a state another version adds shows up here). */
export const FILTER_STATES: readonly TaskLifeState[] = TASK_LIFE_STATES;
