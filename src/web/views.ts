// What the page draws: each view renders the state it is given and calls back with what the person asked
// for; none fetches or keeps state of its own. Every string from the server goes in as text (see dom.ts).

import { ENDED_STATES, type TaskLifeState } from '../core/task-status.ts';
import type { CancelSourceReply, MeReply, TaskReply } from '../protocol/schemas.ts';
import { h, replace } from './dom.ts';
import { ago, cancelledByText, FILTER_STATES, fromNow, type PageTask, type PageView } from './page-state.ts';

/** Where the event stream stands, as the header says it. */
export interface Connection {
  readonly state: 'connecting' | 'live' | 'reconnecting';
  readonly error?: string | undefined;
  readonly retryAt?: number | undefined;
}

/** The detail of one task: the server's answer once it came, and the events seen since it was opened. */
export interface DetailState {
  readonly id: string;
  readonly reply?: TaskReply | undefined;
  readonly error?: string | undefined;
  readonly events: readonly { readonly change: string; readonly at: string }[];
}

/** What the person can ask for from any view. */
export interface Actions {
  open(id: string): void;
  back(): void;
  /** Opens the confirmation dialog for a cancel of `id`. */
  askCancel(id: string): void;
}

/** What the page asks of the shell's controls; `cancel` resolves with an error to show, or undefined when done. */
export interface ShellHandlers {
  signOut(): void;
  filter(change: Pick<PageView, 'q' | 'state'>): void;
  open(id: string): void;
  back(): void;
  cancel(id: string, request: { reason: string; after: string }): Promise<string | undefined>;
}

/** The signed-in page: header, filters, the windowed task table, the detail, the dialog. */
export interface Shell {
  readonly root: HTMLElement;
  /** The box the rows are placed in (absolutely, at their index times the row height). */
  readonly rows: HTMLElement;
  readonly actions: Actions;
  showView(view: PageView): void;
  showStatus(
    connection: Connection,
    listing: 'listing' | undefined,
    listError: string | undefined,
    notice: { text: string; error: boolean } | undefined,
    now: number,
  ): void;
  showCount(shown: number, total: number): void;
  /** Shows a task's detail instead of the list, or the list again with undefined. */
  showDetail(detail: HTMLElement | undefined): void;
  focusSearch(): void;
  /** Whether the cancel dialog is open (keys are its own then). */
  dialogOpen(): boolean;
}

/** Whether the signed-in token may cancel: a reader or worker token sees no cancel control at all. */
export function mayCancel(me: MeReply): boolean {
  return me.caller?.rights.includes('cancel') ?? false;
}

/** Whether a task in `state` is worth a Cancel button: it has not ended, and no cancel is on its way yet. */
function cancellable(state: TaskLifeState | undefined): boolean {
  return state === undefined || (state !== 'cancel_requested' && !ENDED_STATES.has(state));
}

/** The sign-in form; `submit` resolves with an error to show (the form stays) or undefined once in. */
export function renderSignIn(message: string | undefined, submit: (token: string) => Promise<string | undefined>): HTMLElement {
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'current-password', required: true, spellcheck: 'false' });
  const error = h('p', { class: 'error', role: 'alert' }, message);
  const button = h('button', { type: 'submit' }, 'Sign in');
  const form = h(
    'form',
    { class: 'sign-in' },
    h('h1', {}, 'taskctl'),
    h('p', {}, 'This server asks for a token. It is kept in this tab only, until you sign out or close it.'),
    h('label', { for: 'token' }, 'Token'),
    input,
    error,
    button,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (token === '') return;
    button.disabled = true;
    const problem = await submit(token);
    button.disabled = false;
    if (problem !== undefined) {
      replace(error, problem);
      input.select();
    }
  });
  queueMicrotask(() => input.focus());
  return h('main', { class: 'sign-in-page' }, form);
}

export function renderShell(me: MeReply, view: PageView, handlers: ShellHandlers): Shell {
  const status = h('span', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const header = h(
    'header',
    { class: 'bar' },
    h('a', { class: 'brand', href: '/' }, 'taskctl'),
    status,
    h('span', { class: 'who' }, me.tokensRequired && me.caller ? `${me.caller.name} · ${me.caller.role}` : 'no sign-in needed'),
    me.tokensRequired && button('Sign out', { class: 'quiet' }, () => handlers.signOut()),
  );
  const search = h('input', {
    type: 'search',
    name: 'q',
    placeholder: 'task id contains…',
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-label': 'Search task ids',
  });
  const stateSelect = h(
    'select',
    { name: 'state', 'aria-label': 'State' },
    h('option', { value: '' }, 'every state'),
    ...FILTER_STATES.map((state) => h('option', { value: state }, state)),
  );
  const count = h('span', { class: 'count', 'aria-live': 'polite' });
  const filters = h('form', { class: 'filters', role: 'search' }, search, stateSelect, count);
  const changed = () => handlers.filter({ q: search.value, state: (stateSelect.value || undefined) as TaskLifeState | undefined });
  search.addEventListener('input', changed);
  stateSelect.addEventListener('change', changed);
  filters.addEventListener('submit', (event) => event.preventDefault());

  const rows = h('div', { class: 'rows', role: 'rowgroup' });
  const table = h(
    'div',
    { class: 'table', role: 'table', 'aria-label': 'Tasks' },
    h(
      'div',
      { class: 'row head', role: 'row' },
      ...['Task', 'State', 'Since', 'Worker', 'Progress', 'Cancelled by', ''].map((name) => h('span', { role: 'columnheader' }, name)),
    ),
    rows,
  );
  const empty = h('p', { class: 'empty' });
  const listView = h('section', { class: 'list-view' }, filters, table, empty);
  const detailView = h('section', { class: 'detail-view', hidden: true });
  const notice = h('p', { class: 'notice', role: 'status' });

  // Only a token that may cancel gets the dialog at all.
  const dialog = mayCancel(me) ? renderCancelDialog(handlers) : undefined;
  const actions: Actions = {
    open: handlers.open,
    back: handlers.back,
    askCancel: (id) => dialog?.ask(id),
  };
  // Up and down move between rows; a row's link opens it with Enter like any link.
  rows.addEventListener('keydown', (event) => {
    if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
    const row = (event.target as HTMLElement).closest<HTMLElement>('.row');
    const index = Number(row?.getAttribute('aria-rowindex'));
    const next = rows.querySelector<HTMLElement>(`[aria-rowindex="${index + (event.key === 'ArrowDown' ? 1 : -1)}"] a`);
    if (!next) return;
    event.preventDefault();
    next.focus();
    next.scrollIntoView({ block: 'nearest' });
  });
  const root = h('div', { class: 'page' }, header, h('main', {}, listView, detailView), notice, dialog?.element);
  let lastCount = '';
  const shell: Shell = {
    root,
    rows,
    actions,
    showView: (next) => {
      if (search.value !== next.q) search.value = next.q;
      stateSelect.value = next.state ?? '';
    },
    showStatus: (connection, listing, listError, shownNotice, now) => {
      const text =
        connection.state === 'live'
          ? listError !== undefined
            ? `live · listing failed: ${listError}`
            : listing
              ? 'live · listing…'
              : 'live'
          : connection.state === 'connecting'
            ? 'connecting…'
            : `disconnected (${connection.error ?? 'no answer'}) · reconnecting${connection.retryAt !== undefined ? ` ${fromNow(new Date(connection.retryAt).toISOString(), now)}` : ''}`;
      if (status.textContent !== text) status.textContent = text;
      status.dataset.state = connection.state;
      if (shownNotice && notice.textContent !== shownNotice.text) {
        notice.textContent = shownNotice.text;
        notice.classList.toggle('error', shownNotice.error);
      }
    },
    showCount: (shown, total) => {
      const text = shown === total ? `${total} task${total === 1 ? '' : 's'}` : `${shown} of ${total} tasks`;
      if (text !== lastCount) {
        count.textContent = lastCount = text;
        empty.textContent =
          total === 0 ? 'No tasks yet: they show here once a worker watches one or someone cancels one.' : shown === 0 ? 'No task matches.' : '';
        table.setAttribute('aria-rowcount', String(shown));
      }
    },
    focusSearch: () => search.focus(),
    dialogOpen: () => dialog?.element.open ?? false,
    showDetail: (detail) => {
      listView.hidden = detail !== undefined;
      detailView.hidden = detail === undefined;
      if (detail) {
        // Redrawn in place: the focus (on its back link or cancel button) stays where it was.
        const focused = (document.activeElement as HTMLElement | null)?.dataset.focus;
        replace(detailView, detail);
        if (focused) detailView.querySelector<HTMLElement>(`[data-focus="${focused}"]`)?.focus();
      }
    },
  };
  shell.showView(view);
  return shell;
}

function button(label: string, attributes: Record<string, string>, onClick: () => void): HTMLButtonElement {
  const element = h('button', { type: 'button', ...attributes }, label);
  element.addEventListener('click', onClick);
  return element;
}

/** A link to a task's detail, handled in the page (a plain link still works: a new tab, a copied URL). */
function taskLink(id: string, actions: Actions, attributes: Record<string, string> = {}): HTMLAnchorElement {
  const link = h('a', { href: `?task=${encodeURIComponent(id)}`, ...attributes }, id);
  link.addEventListener('click', (event) => {
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    actions.open(id);
  });
  return link;
}

function stateBadge(state: string | undefined): HTMLElement {
  return h('span', { class: `state state-${state ?? 'unknown'}` }, state ?? 'unknown');
}

function workerText(worker: { host: string; pid: number } | undefined): string {
  return worker ? `${worker.host}:${worker.pid}` : '';
}

/** One task's row: id (a link to its detail), state, since, worker, progress, who cancelled, and Cancel. */
export function renderRow(task: PageTask, me: MeReply, now: number, flash: boolean, actions: Actions): HTMLElement {
  const status = task.status;
  const state = status?.state;
  return h(
    'div',
    { class: `row${flash ? ' flash' : ''}`, role: 'row', 'data-id': task.id },
    h('span', { role: 'cell', class: 'id' }, taskLink(task.id, actions, { 'data-focus': 'open' })),
    h('span', { role: 'cell', class: 'cell-state' }, stateBadge(state)),
    h('span', { role: 'cell', class: 'since', title: status?.since ?? '' }, status ? ago(status.since, now) : ''),
    h('span', { role: 'cell', class: 'worker' }, workerText(status?.worker)),
    h('span', { role: 'cell', class: 'progress' }, status?.progress?.text ?? ''),
    // Why, where the record says: on hover, the row has no room for it (the detail shows it in full).
    h('span', { role: 'cell', class: 'by', title: task.reason }, cancelledByText(task)),
    h(
      'span',
      { role: 'cell', class: 'actions' },
      mayCancel(me) &&
        cancellable(state) &&
        button('Cancel', { class: 'danger', 'data-focus': 'cancel', 'aria-label': `Cancel task ${task.id}` }, () => actions.askCancel(task.id)),
    ),
  );
}

/** Brings a row's "12s ago" up to date without drawing it again. */
export function refreshAge(row: HTMLElement, task: PageTask, now: number): void {
  const since = row.querySelector('.since');
  if (since && task.status) since.textContent = ago(task.status.since, now);
}

function who(by: CancelSourceReply | undefined): string {
  return by ? `${by.name} from ${by.address} (${by.route})` : 'unknown';
}

function field(label: string, ...value: (Node | string | false | undefined)[]): HTMLElement[] {
  return [h('dt', {}, label), h('dd', {}, ...value)];
}

/** A task's detail: state, progress, worker, parents and children, the cancel record, the schedule, history, live events. */
export function renderDetail(detail: DetailState, me: MeReply, now: number, actions: Actions): HTMLElement {
  const back = h('a', { href: location.pathname, class: 'back', 'data-focus': 'back' }, '← All tasks');
  back.addEventListener('click', (event) => {
    event.preventDefault();
    actions.back();
  });
  const reply = detail.reply;
  const status = reply?.status;
  const state = status?.state;
  const heading = h('h1', {}, h('span', { class: 'id' }, detail.id), ' ', stateBadge(reply ? state : undefined));
  if (!reply) return h('article', { class: 'detail' }, back, heading, h('p', { role: detail.error ? 'alert' : undefined }, detail.error ?? 'Loading…'));
  const facts: HTMLElement[] = [];
  if (status) {
    facts.push(...field('Since', `${ago(status.since, now)} (${status.since})`));
    if (status.worker) facts.push(...field('Worker', `${status.worker.host} pid ${status.worker.pid} (${status.worker.id})`));
    if (status.lastSeenAt) facts.push(...field('Last seen', ago(status.lastSeenAt, now)));
    if (status.progress) facts.push(...field('Progress', h('span', { class: 'progress' }, status.progress.text), ` · ${ago(status.progress.at, now)}`));
    if (status.exitCode !== undefined && status.exitCode !== null) facts.push(...field('Exit code', String(status.exitCode)));
    if (status.signal) facts.push(...field('Signal', status.signal));
    if (status.cancelReason) facts.push(...field('Why', status.cancelReason));
  }
  if (reply.parents?.length) facts.push(...field('Parents', ...joined(reply.parents.map((id) => taskLink(id, actions)))));
  const record = reply.record;
  const cancelRecord =
    record &&
    h(
      'section',
      { class: 'record' },
      h('h2', {}, 'Cancel'),
      h(
        'dl',
        {},
        ...field('By', who(record.by)),
        ...field('At', `${record.cancelledAt} (${ago(record.cancelledAt, now)})`),
        ...field('Reason', record.reason ?? '(none given)'),
        ...(record.parent ? field('Through parent', taskLink(record.parent, actions)) : []),
        ...field('Remembered until', record.expiresAt),
      ),
    );
  const schedule =
    reply.scheduled &&
    h(
      'section',
      { class: 'schedule' },
      h('h2', {}, 'Scheduled cancel'),
      h(
        'dl',
        {},
        ...field('At', `${reply.scheduled.at} (${fromNow(reply.scheduled.at, now)})`),
        ...field('Reason', reply.scheduled.reason ?? '(none given)'),
        ...(reply.scheduled.by ? field('By', who(reply.scheduled.by)) : []),
      ),
    );
  const children =
    reply.children &&
    h(
      'section',
      { class: 'children' },
      h('h2', {}, 'Children'),
      h('ul', {}, ...reply.children.tasks.map((child) => h('li', {}, taskLink(child.id, actions), ' ', stateBadge(child.state)))),
      reply.children.next !== undefined && h('p', {}, `More: taskctl ls --parent ${detail.id}`),
    );
  const history =
    status &&
    h(
      'section',
      { class: 'history' },
      h('h2', {}, 'History'),
      h('ol', {}, ...status.history.map((entry) => h('li', {}, stateBadge(entry.state), ` ${entry.at} (${ago(entry.at, now)})`))),
    );
  const events = h(
    'section',
    { class: 'events' },
    h('h2', {}, 'Events since opened'),
    detail.events.length === 0
      ? h('p', { class: 'quiet' }, 'None yet; they show here as they happen.')
      : h('ol', {}, ...detail.events.map((event) => h('li', {}, `${event.change} · ${event.at}`))),
  );
  return h(
    'article',
    { class: 'detail' },
    back,
    heading,
    mayCancel(me) &&
      cancellable(state) &&
      !reply.cancelled &&
      button('Cancel…', { class: 'danger', 'data-focus': 'cancel', 'aria-label': `Cancel task ${detail.id}` }, () => actions.askCancel(detail.id)),
    !status && !record && !reply.scheduled && h('p', {}, 'The server knows nothing of this task yet: no worker has watched it and nobody cancelled it.'),
    facts.length > 0 && h('dl', {}, ...facts),
    cancelRecord,
    schedule,
    children,
    history,
    events,
  );
}

function joined(nodes: readonly Node[]): (Node | string)[] {
  return nodes.flatMap((node, index) => (index === 0 ? [node] : [', ', node]));
}

/** The confirmation a cancel needs: a reason, an optional delay, and two plainly named buttons. */
function renderCancelDialog(handlers: ShellHandlers): { element: HTMLDialogElement; ask(id: string): void } {
  const title = h('h2', { id: 'cancel-title' });
  const reason = h('input', { name: 'reason', maxlength: 1024, autocomplete: 'off' });
  const after = h('input', { name: 'after', placeholder: '10m', autocomplete: 'off', spellcheck: 'false', size: 8 });
  const error = h('p', { class: 'error', role: 'alert' });
  const confirm = h('button', { type: 'submit', class: 'danger' }, 'Cancel task');
  const keep = button('Keep it running', {}, () => element.close());
  const form = h(
    'form',
    {},
    title,
    h('label', {}, 'Reason', reason),
    h('label', {}, 'After (optional: 30s, 10m, 2h)', after),
    error,
    h('div', { class: 'buttons' }, keep, confirm),
  );
  const element = h('dialog', { class: 'confirm', 'aria-labelledby': 'cancel-title' }, form);
  let taskId = '';
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    confirm.disabled = true;
    const problem = await handlers.cancel(taskId, { reason: reason.value.trim(), after: after.value.trim() });
    confirm.disabled = false;
    if (problem === undefined) element.close();
    else replace(error, problem);
  });
  return {
    element,
    ask: (id) => {
      taskId = id;
      replace(title, 'Cancel ', h('span', { class: 'id' }, id), '?');
      reason.value = '';
      after.value = '';
      replace(error);
      element.showModal();
      reason.focus();
    },
  };
}
