// The web page: signs in, lists the tasks and keeps them live from the event stream, shows one task's
// detail, and cancels. State lives in one place (this Page and its TaskList); views.ts renders it.

import type { ResetData, TaskEventData } from '../protocol/events.ts';
import type { MeReply } from '../protocol/schemas.ts';
import { Api, ApiError } from './api.ts';
import { h, replace } from './dom.ts';
import { anchorShift, type PageTask, type PageView, pageTaskOf, rowWindow, searchOfView, TaskList, viewOfSearch } from './page-state.ts';
import { type Connection, type DetailState, refreshAge, renderDetail, renderRow, renderShell, renderSignIn, type Shell } from './views.ts';

const TOKEN_KEY = 'taskctl.token';
// A listing asks for this many tasks a page (the most the server gives).
const LIST_PAGE = 1_000;
// The server writes a heartbeat every 15 s: three missed means the stream is dead though no error came.
const STREAM_SILENCE_MS = 45_000;
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 15_000;
// How long a row whose state changed is marked (its flash is a CSS animation this long).
const FLASH_MS = 1_500;
// Relative times ("12s ago") are redrawn this often.
const TICK_MS = 5_000;

/** Waits `ms`, or less when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

class Page {
  readonly #root: HTMLElement;
  #api: Api;
  #me: MeReply | undefined;
  #shell: Shell | undefined;
  #list = new TaskList();
  #view: PageView = viewOfSearch(location.search);
  #connection: Connection = { state: 'connecting' };
  #lastEventId: string | undefined;
  #listError: string | undefined;
  #listGeneration = 0;
  #stop = new AbortController();
  #frame = 0;
  /** Rows in the DOM, by id, with the task object they were drawn from (redrawn only when it changes). */
  #rows = new Map<string, { task: PageTask; flash: boolean; tick: number; element: HTMLElement }>();
  #flashUntil = new Map<string, number>();
  /** The ids as last drawn: where the anchor row was, so new rows above it do not move it. */
  #drawnIds: readonly string[] = [];
  #detail: DetailState | undefined;
  #detailDrawn: { detail: DetailState; tick: number } | undefined;
  #notice: { text: string; error: boolean } | undefined;

  constructor(root: HTMLElement) {
    this.#root = root;
    this.#api = new Api(sessionStorage.getItem(TOKEN_KEY) ?? undefined);
    addEventListener('popstate', () => this.#navigate(viewOfSearch(location.search), 'none'));
    addEventListener('keydown', (event) => this.#onKey(event));
    addEventListener('scroll', () => this.render(), { passive: true });
    addEventListener('resize', () => this.render());
    setInterval(() => this.render(), TICK_MS);
  }

  /** Asks the server who the saved token is: in with it, or the sign-in form. */
  async start(): Promise<void> {
    try {
      const me = await this.#api.me();
      if (me.caller) this.#signedIn(me);
      else this.#signIn(undefined);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401)
        this.#signIn(this.#api.token === undefined ? undefined : 'The saved token is no longer accepted; sign in again.');
      else this.#fatal(`Cannot reach the server: ${errorText(error)}`, true);
    }
  }

  #signIn(message: string | undefined): void {
    this.#stop.abort();
    this.#shell = undefined;
    replace(
      this.#root,
      renderSignIn(message, async (token) => {
        const api = new Api(token);
        try {
          const me = await api.me();
          // A server without tokens has nobody to sign in as; its page opens without the form.
          if (!me.caller) return 'The server did not take the token.';
          sessionStorage.setItem(TOKEN_KEY, token);
          this.#api = api;
          this.#signedIn(me);
          return undefined;
        } catch (error) {
          if (error instanceof ApiError && error.status === 401) return 'Wrong token: the server refused it.';
          return `Cannot sign in: ${errorText(error)}`;
        }
      }),
    );
  }

  #signOut(message?: string): void {
    sessionStorage.removeItem(TOKEN_KEY);
    this.#api = new Api(undefined);
    this.#me = undefined;
    this.#signIn(message);
  }

  /** A dead end (the server unreachable, or the token may not list tasks): says why, with a way out. */
  #fatal(message: string, retry: boolean): void {
    this.#stop.abort();
    this.#shell = undefined;
    const signOut = this.#api.token !== undefined && h('button', { type: 'button' }, 'Sign out');
    if (signOut) signOut.addEventListener('click', () => this.#signOut());
    replace(
      this.#root,
      h('main', { class: 'fatal' }, h('p', { role: 'alert' }, message), retry && h('p', {}, h('a', { href: location.href }, 'Try again')), signOut),
    );
  }

  /** Keys for the whole page: / to search, Escape from a detail back to the list. Typing in a field is left alone. */
  #onKey(event: KeyboardEvent): void {
    const shell = this.#shell;
    if (!shell || shell.dialogOpen() || event.target instanceof HTMLInputElement || event.target instanceof HTMLSelectElement) return;
    if (event.key === '/') {
      event.preventDefault();
      shell.focusSearch();
    } else if (event.key === 'Escape' && this.#view.task !== undefined) {
      this.#navigate({ ...this.#view, task: undefined }, 'push');
    }
  }

  #signedIn(me: MeReply): void {
    this.#me = me;
    // Said before asking: the list and the stream would only be refused (and the browser log a 403 for each).
    if (me.caller && !me.caller.rights.includes('list')) {
      this.#fatal(`The token ${me.caller.name} (role ${me.caller.role}) may not list tasks: this page needs a reader, operator or admin token.`, false);
      return;
    }
    this.#stop = new AbortController();
    this.#list = new TaskList();
    this.#rows.clear();
    this.#lastEventId = undefined;
    this.#shell = renderShell(me, this.#view, {
      signOut: () => this.#signOut(),
      // Typing a search replaces the history entry rather than adding one per letter.
      filter: (change) => this.#navigate({ ...this.#view, ...change, task: undefined }, 'replace'),
      open: (id) => this.#navigate({ ...this.#view, task: id }, 'push'),
      back: () => this.#navigate({ ...this.#view, task: undefined }, 'push'),
      cancel: (id, request) => this.#cancel(id, request),
    });
    replace(this.#root, this.#shell.root);
    void this.#follow(this.#stop.signal);
    this.#openDetail();
    this.render();
  }

  /** Shows `view`, and puts it in the URL as a new history entry, in place of the current one, or not at all (Back and Forward). */
  #navigate(view: PageView, entry: 'push' | 'replace' | 'none'): void {
    const detailChanged = view.task !== this.#view.task;
    this.#view = view;
    const url = `${location.pathname}${searchOfView(view)}`;
    if (entry === 'push') history.pushState(null, '', url);
    else if (entry === 'replace') history.replaceState(null, '', url);
    this.#shell?.showView(view);
    if (detailChanged) this.#openDetail();
    this.render();
  }

  #openDetail(): void {
    const id = this.#view.task;
    this.#detail = id === undefined ? undefined : { id, events: [] };
    if (id !== undefined) void this.#loadDetail(id);
  }

  async #loadDetail(id: string): Promise<void> {
    try {
      const reply = await this.#api.task(id);
      if (this.#detail?.id === id) this.#detail = { ...this.#detail, reply, error: undefined };
    } catch (error) {
      if (this.#detail?.id === id) this.#detail = { ...this.#detail, error: errorText(error) };
    }
    this.render();
  }

  async #cancel(id: string, request: { reason: string; after: string }): Promise<string | undefined> {
    try {
      const body = { ...(request.reason !== '' ? { reason: request.reason } : {}), ...(request.after !== '' ? { after: request.after } : {}) };
      await this.#api.cancel(id, body);
      this.#notice = { text: request.after !== '' ? `Cancel of ${id} scheduled in ${request.after}.` : `Cancel of ${id} requested.`, error: false };
      if (this.#detail?.id === id) void this.#loadDetail(id);
      this.render();
      return undefined;
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        this.#signOut('Your token is no longer accepted; sign in again.');
        return undefined;
      }
      return errorText(error);
    }
  }

  /**
   * Follows the event stream until signed out: opened again after any break with growing, jittered waits,
   * resuming after the last event seen. Lists the tasks once it is open (events meanwhile wait for the
   * listing), and again after a `reset` or when it cannot resume.
   */
  async #follow(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      const attempt = new AbortController();
      const stop = () => attempt.abort();
      signal.addEventListener('abort', stop, { once: true });
      let silence = setTimeout(stop, STREAM_SILENCE_MS);
      const alive = (lastId: string | undefined) => {
        clearTimeout(silence);
        silence = setTimeout(stop, STREAM_SILENCE_MS);
        // Where the stream stands, events or not: the server says where it starts, so a page that heard no
        // event before a break still resumes rather than lists again.
        if (lastId !== undefined) this.#lastEventId = lastId;
      };
      try {
        await this.#api.events(this.#lastEventId, attempt.signal, {
          open: () => {
            failures = 0;
            this.#connection = { state: 'live' };
            // Without an event id to resume from, what happened while it was closed is unknown: list.
            if (this.#lastEventId === undefined) void this.#listAll(signal);
            this.render();
          },
          alive,
          task: (data, id) => this.#onEvent(data, id),
          reset: (data, id) => this.#onReset(data, id, signal),
        });
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof ApiError && error.status === 401) return this.#signOut('Your token is no longer accepted; sign in again.');
        if (error instanceof ApiError && error.status === 403) return this.#fatal(error.message, false);
        this.#connection = { state: 'reconnecting', error: errorText(error) };
      } finally {
        clearTimeout(silence);
        signal.removeEventListener('abort', stop);
      }
      if (signal.aborted) return;
      failures++;
      const waitMs = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (failures - 1)) * (0.5 + Math.random() / 2);
      this.#connection = { state: 'reconnecting', error: this.#connection.error ?? 'the event stream ended', retryAt: Date.now() + waitMs };
      this.render();
      await sleep(waitMs, signal);
      this.#connection = { state: 'connecting' };
      this.render();
    }
  }

  #onEvent(data: TaskEventData, id: string | undefined): void {
    if (id !== undefined) this.#lastEventId = id;
    this.#flash(this.#list.apply([data]));
    if (this.#detail?.id === data.id) {
      this.#detail = { ...this.#detail, events: [...this.#detail.events, { change: data.change, at: data.at }].slice(-100) };
      // The event carries the task but not its parents and children: the detail asks for all of it again.
      void this.#loadDetail(data.id);
    }
    this.render();
  }

  #onReset(_data: ResetData, id: string | undefined, signal: AbortSignal): void {
    if (id !== undefined) this.#lastEventId = id;
    void this.#listAll(signal);
  }

  #flash(ids: ReadonlySet<string>): void {
    const until = Date.now() + FLASH_MS;
    for (const id of ids) this.#flashUntil.set(id, until);
  }

  /** Lists every task, page by page (keyset: `after` the last id of the page before); a newer listing wins. */
  async #listAll(signal: AbortSignal): Promise<void> {
    const generation = ++this.#listGeneration;
    this.#list.beginListing();
    let after: string | undefined;
    let failures = 0;
    while (!signal.aborted && generation === this.#listGeneration) {
      try {
        const page = await this.#api.tasks({ after, limit: LIST_PAGE }, signal);
        if (generation !== this.#listGeneration) return;
        failures = 0;
        this.#listError = undefined;
        this.#list.listed(page.tasks.map(({ id, reason, ...status }) => ({ ...pageTaskOf({ id, status }), ...(reason === undefined ? {} : { reason }) })));
        this.render();
        if (page.next === undefined) break;
        after = page.next;
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof ApiError && error.status === 401) return this.#signOut('Your token is no longer accepted; sign in again.');
        if (error instanceof ApiError && error.status === 403) return this.#fatal(error.message, false);
        this.#listError = errorText(error);
        this.render();
        await sleep(Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** failures++), signal);
      }
    }
    if (signal.aborted || generation !== this.#listGeneration) return;
    this.#flash(this.#list.endListing());
    this.render();
  }

  /** Draws on the next frame; many changes in one frame are drawn once. */
  render(): void {
    if (this.#frame !== 0 || !this.#shell) return;
    this.#frame = requestAnimationFrame(() => {
      this.#frame = 0;
      this.#draw();
    });
  }

  #draw(): void {
    const shell = this.#shell;
    const me = this.#me;
    if (!shell || !me) return;
    const now = Date.now();
    shell.showStatus(this.#connection, this.#list.listing ? 'listing' : undefined, this.#listError, this.#notice, now);
    const tick = Math.floor(now / TICK_MS);
    if (this.#view.task !== undefined && this.#detail) {
      // Drawn again only when it changed (or its "12s ago" did), not on every scroll.
      if (this.#detailDrawn?.detail !== this.#detail || this.#detailDrawn.tick !== tick) {
        shell.showDetail(renderDetail(this.#detail, me, now, shell.actions));
        this.#detailDrawn = { detail: this.#detail, tick };
      }
      return;
    }
    this.#detailDrawn = undefined;
    shell.showDetail(undefined);
    const shown = this.#list.shown(this.#view);
    shell.showCount(shown.length, this.#list.size);
    const rows = shell.rows;
    const rowHeight = Number.parseFloat(getComputedStyle(rows).getPropertyValue('--row-height')) || 40;
    const listTop = rows.getBoundingClientRect().top + scrollY;
    // Rows that came or went above the first one on screen would move it: scroll by as much, so it stays.
    if (shown !== this.#drawnIds) {
      const { first } = rowWindow(this.#drawnIds.length, rowHeight, listTop, scrollY, innerHeight, 0);
      const shift = anchorShift(this.#drawnIds, shown, this.#drawnIds[first], rowHeight);
      this.#drawnIds = shown;
      if (shift !== 0 && scrollY > listTop) scrollBy(0, shift);
    }
    // Set each time: the row height changes with the width (two-line rows on a phone).
    rows.style.height = `${shown.length * rowHeight}px`;
    const { first, end } = rowWindow(shown.length, rowHeight, listTop, scrollY, innerHeight);
    const keep = new Set<string>();
    for (let index = first; index < end; index++) {
      const id = shown[index]!;
      const task = this.#list.get(id)!;
      const flash = (this.#flashUntil.get(id) ?? 0) > now;
      keep.add(id);
      let row = this.#rows.get(id);
      if (!row || row.task !== task || row.flash !== flash) {
        const element = renderRow(task, me, now, flash, shell.actions);
        if (row) {
          // A row redrawn under the keyboard's focus hands the focus to the same control in its new self.
          const focused = row.element.contains(document.activeElement) ? (document.activeElement as HTMLElement).dataset.focus : undefined;
          row.element.replaceWith(element);
          if (focused) element.querySelector<HTMLElement>(`[data-focus="${focused}"]`)?.focus();
        } else rows.appendChild(element);
        row = { task, flash, tick, element };
        this.#rows.set(id, row);
      } else if (row.tick !== tick) {
        refreshAge(row.element, task, now);
        row.tick = tick;
      }
      row.element.style.top = `${index * rowHeight}px`;
      row.element.setAttribute('aria-rowindex', String(index + 1));
    }
    for (const [id, row] of this.#rows) {
      if (keep.has(id)) continue;
      row.element.remove();
      this.#rows.delete(id);
    }
    for (const [id, until] of this.#flashUntil) if (until <= now) this.#flashUntil.delete(id);
  }
}

void new Page(document.getElementById('app')!).start();
