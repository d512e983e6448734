// A live copy of some tables for one tenant: each table's snapshot, read only once the
// shared stream carries the table (so the stream starts no later than the snapshot), each
// table skipping what its snapshot holds (exact hand-off, DESIGN §4). Reads a table again
// on `truncate` or `invalidate`, every table on `reset` or when a stream could not resume
// where this tab had got to; shows edits at once and takes back refused ones. Snapshots
// come in pages and show as they come; a window shows the first rows of a large table.
//
//   loading ──(every table read, its stream open)──► live ◄──► reconnecting
//      └──────────────── close() / refused (401, 403, 404) ──────────► stopped
import { QUERY, SSE_EVENT } from '../wire/names.js';
import type { BackoffOptions } from './backoff.js';
import { backoffDelay, pause } from './backoff.js';
import type { Identity } from './claims.js';
import { WalcastClientError } from './errors.js';
import type { StreamStatus } from './event-stream.js';
import type { ErrorData } from './feed-messages.js';
import { sendJson, type Http } from './http.js';
import { Outbox, type PersistOptions } from './outbox.js';
import { applyPresence } from './room-members.js';
import { interestKey, type Interest } from './stream-plan.js';
import type { MemberListener, StreamMember } from './stream-member.js';
import { compareKeyValues, TableCopy, type RowKey, type WindowOptions } from './table-copy.js';
import type { ChangeEvent, Member, PresenceEvent, RefetchEvent, Row, Snapshot } from './types.js';

/** Filters: one for every table, or per table (`{ todos: 'done=eq.false' }`). */
export type WhereOption<N extends string = string> = string | readonly string[] | { readonly [table in N]?: string | readonly string[] };

export interface SubscribeOptions<N extends string = string> {
  /** `schema.table` or `table` (schema public), as exposed. */
  readonly tables: readonly N[];
  /** PostgREST-style filters (`done=eq.false`): for every table, or per table. */
  readonly where?: WhereOption<N>;
  /** Presence rooms whose members this subscription follows. */
  readonly rooms?: readonly string[];
  /** Order of `rows()`; default: by key. */
  readonly orderBy?: (a: Row, b: Row) => number;
  /**
   * Tables too large to hold whole: only their first `limit` rows in key order, kept
   * right as rows change (rows entering and leaving through events, read again when a
   * row leaves and more lie beyond). A table with fewer rows is held whole.
   */
  readonly windows?: { readonly [table in N]?: WindowOptions };
  /**
   * Keep unconfirmed edits in `storage` (e.g. localStorage) under the token's user and
   * `key`, so edits made offline are sent when the app next subscribes, even after a reload.
   */
  readonly persistEdits?: PersistOptions;
}

export type SubscriptionStatus = 'loading' | 'live' | 'reconnecting' | 'stopped';

type Listeners = {
  rows: (table: string) => void;
  /** Each committed change as it is applied, once (not those a snapshot already held). */
  change: (event: ChangeEvent) => void;
  presence: (room: string) => void;
  status: (status: SubscriptionStatus, error?: WalcastClientError) => void;
};

export interface SubscriptionContext {
  readonly http: Http;
  readonly member: StreamMember;
  readonly backoff: BackoffOptions;
  /** Rows per snapshot page. */
  readonly pageSize: number;
  readonly identity: Promise<Identity | undefined>;
  readonly tenantClaim: string;
  readonly serverErrorRetries?: number | undefined;
  readonly closed: (subscription: object) => void;
}

interface TableState {
  readonly interest: Interest;
  /** What rows() shows and edits apply to; while a table is read again, the new read once it has a page. */
  copy: TableCopy | undefined;
  /** A read under way: takes events; replaces `copy` when done (a window: when done; else at once). */
  reading: TableCopy | undefined;
  /** Bumped on each (re)load; a load that finds it changed is stale. */
  generation: number;
  /** Change events that arrived before the read's first page. */
  buffer: ChangeEvent[] | undefined;
  stream: StreamStatus | undefined;
}

/** One empty answer, so a table not read yet is the same value on every call. */
const NO_ROWS: readonly Row[] = Object.freeze([]);

/** `table` means `public.table`, as walcast resolves it. */
export const qualified = (table: string) => (table.includes('.') ? table : `public.${table}`);

function whereFor(where: WhereOption | undefined, table: string): readonly string[] {
  if (where === undefined) return [];
  if (typeof where === 'string') return [where];
  if (Array.isArray(where)) return where as readonly string[];
  const perTable = where as { readonly [table: string]: string | readonly string[] | undefined };
  const own = perTable[table] ?? perTable[qualified(table)] ?? perTable[table.replace(/^public\./, '')];
  return own === undefined ? [] : [own].flat();
}

/** Row types by table name (as `walcast types` prints them); by default any table, any row. */
export type TableRows = object;
export type AnyTables = { readonly [table: string]: Row };
export type RowOf<T, N> = N extends keyof T ? (T[N] extends object ? T[N] : Row) : Row;
/** With row types, a subscription's own tables; without, any name (`todos` or `public.todos`). */
export type NameOf<T, N extends string> = string extends keyof T ? string : N;

export class Subscription<T extends TableRows = AnyTables, N extends keyof T & string = keyof T & string> implements MemberListener {
  readonly interests: readonly Interest[];
  readonly rooms: readonly string[];
  #status: SubscriptionStatus = 'loading';
  #error: WalcastClientError | undefined;
  readonly #tables = new Map<string, TableState>();
  readonly #rooms = new Map<string, Map<string, Member>>();
  readonly #listeners: { [K in keyof Listeners]: Set<Listeners[K]> } = { rows: new Set(), change: new Set(), presence: new Set(), status: new Set() };
  readonly #views = new Map<string, Row[]>();
  readonly #memberViews = new Map<string, readonly Member[]>();
  readonly #viewKeys = new WeakMap<Row, RowKey>();
  readonly #abort = new AbortController();
  readonly #outbox: Outbox;
  readonly #ready: Promise<void>;
  #settleReady!: { resolve(): void; reject(error: unknown): void };

  constructor(
    private readonly context: SubscriptionContext,
    private readonly options: SubscribeOptions<N>,
  ) {
    if (options.tables.length === 0) throw new TypeError('walcast: subscribe to at least one table');
    for (const table of options.tables) {
      const name = qualified(table);
      const interest = { table: name, where: whereFor(options.where as WhereOption | undefined, table) };
      this.#tables.set(name, { interest, copy: undefined, reading: undefined, generation: 0, buffer: undefined, stream: undefined });
    }
    this.interests = [...this.#tables.values()].map((state) => state.interest);
    this.rooms = options.rooms ?? [];
    this.#ready = new Promise((resolve, reject) => {
      this.#settleReady = { resolve, reject };
    });
    this.#ready.catch(() => undefined);
    this.#outbox = new Outbox({
      http: context.http,
      persist: options.persistEdits,
      identity: context.identity,
      tenantClaim: context.tenantClaim,
      serverErrorRetries: context.serverErrorRetries,
      copyOf: (table) => this.#tables.get(table)?.copy,
      changed: (table) => this.changed(table),
      backoff: context.backoff,
    });
    context.member.add(this);
  }

  get status(): SubscriptionStatus {
    return this.#status;
  }

  /** Why the subscription stopped (401, 403, an unknown table…), if it did. */
  get error(): WalcastClientError | undefined {
    return this.#error;
  }

  /** Edits made here that the server has not confirmed yet (sending, or offline). */
  get pendingEdits(): number {
    return this.#outbox.unconfirmed;
  }

  /** Resolves once every table has been read and the stream is open. */
  ready(): Promise<void> {
    return this.#ready;
  }

  on<K extends keyof Listeners>(event: K, listener: Listeners[K]): () => void {
    this.#listeners[event].add(listener);
    return () => this.#listeners[event].delete(listener);
  }

  /**
   * The table's rows as this client should show them: committed, with its own edits on
   * top. The same array until something in the table changes (for React's
   * useSyncExternalStore and other change checks by identity).
   */
  rows<M extends NameOf<T, N>>(table: M): readonly RowOf<T, M>[] {
    return this.rowsOf(qualified(table)) as unknown as readonly RowOf<T, M>[];
  }

  /** Who is in `room` (one entry per connection); the same array until it changes. */
  members(room: string): readonly Member[] {
    let members = this.#memberViews.get(room);
    if (!members) this.#memberViews.set(room, (members = [...(this.#rooms.get(room)?.values() ?? [])]));
    return members;
  }

  /** Inserts a row; it shows at once and is confirmed (or taken back) by the server. */
  insert<M extends NameOf<T, N>>(table: M, values: Partial<RowOf<T, M>>): Promise<RowOf<T, M>> {
    const name = qualified(table);
    this.copyFor(name);
    return this.#outbox.add({ table: name, kind: 'insert', values: values as Row, expectedVersion: undefined }) as Promise<RowOf<T, M>>;
  }

  /**
   * Updates `row` (a row from `rows()`, or any object with its key) with `set`. The edit
   * expects the version `row` carries; a 409 rejects with WalcastConflictError and its
   * `current` row, and the change is taken back.
   */
  update<M extends NameOf<T, N>>(table: M, row: Partial<RowOf<T, M>>, set: Partial<RowOf<T, M>>): Promise<RowOf<T, M>> {
    const { name, key, expectedVersion } = this.target(table, row as Row);
    return this.#outbox.add({ table: name, kind: 'update', key, values: set as Row, expectedVersion }) as Promise<RowOf<T, M>>;
  }

  /** Deletes `row`, guarded by its version like `update`. */
  async remove<M extends NameOf<T, N>>(table: M, row: Partial<RowOf<T, M>>): Promise<void> {
    const { name, key, expectedVersion } = this.target(table, row as Row);
    await this.#outbox.add({ table: name, kind: 'delete', key, values: {}, expectedVersion });
  }

  close(): void {
    if (this.#abort.signal.aborted) return;
    this.#abort.abort();
    this.context.member.remove(this);
    this.#outbox.close();
    this.#settleReady.reject(new WalcastClientError(0, 'closed', 'the subscription was closed'));
    this.setStatus('stopped');
    this.context.closed(this);
  }

  /** Sign-out: unconfirmed edits are dropped (and rejected), here and in storage. */
  clearPendingEdits(): void {
    this.#outbox.clear();
  }

  // MemberListener: what the shared stream says.

  covered(table: string, reload: boolean): void {
    const state = this.#tables.get(table);
    if (!state || this.#abort.signal.aborted) return;
    state.stream = 'open';
    if (reload || (state.copy === undefined && state.reading === undefined)) void this.load(table, this.beginLoad(table));
    this.refreshStatus();
  }

  message(table: string | undefined, event: string, data: unknown): void {
    if (this.#abort.signal.aborted) return;
    switch (event) {
      case SSE_EVENT.change:
        return this.applyChange(data as ChangeEvent);
      case SSE_EVENT.truncate:
      case SSE_EVENT.invalidate: {
        const name = (data as RefetchEvent).table;
        if (table !== undefined && this.#tables.has(name)) void this.load(name, this.beginLoad(name));
        return;
      }
      case SSE_EVENT.presence:
        return this.applyPresence(data as PresenceEvent);
    }
  }

  streamStatus(table: string, status: StreamStatus, error: ErrorData | undefined): void {
    const state = this.#tables.get(table);
    if (!state) return;
    if (status === 'stopped') {
      if (error) this.stop(new WalcastClientError(error.status, error.code, error.message));
      return;
    }
    state.stream = status;
    this.refreshStatus();
  }

  private rowsOf(name: string): readonly Row[] {
    const cached = this.#views.get(name);
    if (cached) return cached;
    const copy = this.#tables.get(name)?.copy;
    if (!copy) return NO_ROWS;
    const view = this.#outbox.view(copy);
    for (const [key, row] of view) this.#viewKeys.set(row, key);
    const rows = [...view.values()];
    rows.sort(this.options.orderBy ?? ((a, b) => compareKeys(copy.keyColumns, a, b)));
    this.#views.set(name, rows);
    return rows;
  }

  private target(table: string, row: Row) {
    const name = qualified(table);
    const copy = this.copyFor(name);
    const key = this.#viewKeys.get(row) ?? copy.keyOf(row);
    const versionColumn = copy.versionColumn;
    const current = this.#outbox.view(copy).get(key);
    const expectedVersion = versionColumn === null ? undefined : (row[versionColumn] ?? current?.[versionColumn]);
    return { name, key, expectedVersion };
  }

  private copyFor(name: string): TableCopy {
    const copy = this.#tables.get(name)?.copy;
    if (!copy) throw new WalcastClientError(0, 'not_loaded', `${name} is not loaded yet: await subscription.ready()`);
    return copy;
  }

  private beginLoad(table: string): number {
    const state = this.#tables.get(table)!;
    // A window keeps showing its rows while it is read again; a table shows the new read's pages.
    if (!this.windowOf(table)) state.copy = undefined;
    state.reading = undefined;
    state.buffer = [];
    this.changed(table);
    return ++state.generation;
  }

  private windowOf(table: string): WindowOptions | undefined {
    const windows = this.options.windows as { readonly [table: string]: WindowOptions | undefined } | undefined;
    return windows?.[table] ?? windows?.[table.replace(/^public\./, '')];
  }

  /** Reads the table in pages, each shown as it comes; retried with backoff while retrying can help. */
  private async load(table: string, generation: number): Promise<void> {
    const state = this.#tables.get(table)!;
    const window = this.windowOf(table);
    const current = () => state.generation === generation && !this.#abort.signal.aborted;
    // A table that cannot be paged (no visible key) only truncates at `limit`: read it whole.
    let limit: number | undefined = window?.limit ?? this.context.pageSize;
    for (let attempt = 0; current(); attempt++) {
      try {
        let page: string | undefined;
        let copy: TableCopy | undefined;
        do {
          const answer = await sendJson<Snapshot>(this.context.http, {
            method: 'GET',
            path: this.snapshotPath(state.interest, limit, page, !window),
            signal: this.#abort.signal,
          });
          if (!current()) return;
          if (!page && limit !== undefined && !window && answer.next == null && answer.rows.length >= limit) {
            limit = undefined;
            continue;
          }
          if (!copy) {
            copy = new TableCopy(answer, window);
            for (const event of state.buffer ?? []) this.applyTo(copy, event);
            state.buffer = undefined;
            state.reading = copy;
            if (!window) state.copy = copy;
          }
          copy.addPage(answer.rows);
          if (!window) this.changed(table);
          // A window is one page: the first rows in key order.
          page = window ? undefined : (answer.next ?? undefined);
        } while (page !== undefined || !copy);
        copy.finish();
        state.copy = copy;
        state.reading = undefined;
        this.context.member.loaded(interestKey(state.interest), copy.cursor);
        this.#outbox.reconcile(copy);
        this.changed(table);
        // Rows left a window while it was read: one read at a time, so again now.
        if (copy.short) void this.load(table, this.beginLoad(table));
        return;
      } catch (error) {
        if (!current()) return;
        if (error instanceof WalcastClientError && !error.retryable) return this.stop(error);
        // Pages belong to one snapshot: after a failure the read starts over.
        state.buffer = [];
        state.reading = undefined;
        await pause(backoffDelay(attempt, this.context.backoff), this.#abort.signal);
      }
    }
  }

  /** A window reads its first rows unpaged: no snapshot is held on the server for a next page. */
  private snapshotPath(interest: Interest, limit: number | undefined, page: string | undefined, paged: boolean): string {
    const query = new URLSearchParams();
    if (page !== undefined) query.set(QUERY.page, page);
    else for (const condition of interest.where) query.append(QUERY.where, condition);
    if (limit !== undefined) query.set(QUERY.limit, String(limit));
    if (limit !== undefined && !paged) query.set(QUERY.paged, 'false');
    const search = query.toString();
    return `/v1/tables/${encodeURIComponent(interest.table)}/rows${search ? `?${search}` : ''}`;
  }

  private applyChange(event: ChangeEvent): void {
    const state = this.#tables.get(event.table);
    if (!state) return;
    if (state.buffer) {
      state.buffer.push(event);
      return;
    }
    const target = state.reading ?? state.copy;
    if (!target || !this.applyTo(target, event)) return;
    // A read under way replaces the copy when done (and reads again if it ran short meanwhile).
    if (target !== state.copy) return;
    this.#outbox.reconcile(target);
    this.changed(event.table);
    if (target.short && target.complete) void this.load(event.table, this.beginLoad(event.table));
  }

  private applyTo(copy: TableCopy, event: ChangeEvent): boolean {
    if (!copy.apply(event)) return false;
    for (const listener of this.#listeners.change) listener(event);
    return true;
  }

  private applyPresence(event: PresenceEvent): void {
    if (!this.rooms.includes(event.room)) return;
    const members = this.#rooms.get(event.room) ?? new Map<string, Member>();
    this.#rooms.set(event.room, members);
    applyPresence(members, event);
    this.#memberViews.delete(event.room);
    for (const listener of this.#listeners.presence) listener(event.room);
  }

  private changed(table: string): void {
    this.#views.delete(table);
    this.refreshStatus();
    for (const listener of this.#listeners.rows) listener(table);
  }

  /** Live: every table read and its stream open; before that, loading; after, reconnecting. */
  private refreshStatus(): void {
    if (this.#status === 'stopped') return;
    const states = [...this.#tables.values()];
    const open = states.every((state) => state.stream === 'open');
    const loaded = states.every((state) => state.copy?.complete === true);
    if (!open) this.setStatus(this.#status === 'loading' ? 'loading' : 'reconnecting');
    else this.setStatus(loaded ? 'live' : 'loading');
  }

  private stop(error: WalcastClientError): void {
    if (this.#status === 'stopped') return;
    this.#error = error;
    this.#abort.abort();
    this.context.member.remove(this);
    this.#settleReady.reject(error);
    this.setStatus('stopped', error);
  }

  private setStatus(status: SubscriptionStatus, error?: WalcastClientError): void {
    if (this.#status === status) return;
    this.#status = status;
    if (status === 'live') this.#settleReady.resolve();
    for (const listener of this.#listeners.status) listener(status, error);
  }
}

/** Rows in key order, as Postgres pages them. */
function compareKeys(keyColumns: readonly string[], a: Row, b: Row): number {
  for (const column of keyColumns) {
    const [x, y] = [a[column], b[column]];
    // An insert not yet confirmed has no key from the server yet: it goes last.
    if (x === undefined || y === undefined) return x === undefined ? (y === undefined ? 0 : 1) : -1;
    const order = compareKeyValues(x, y);
    if (order !== 0) return order;
  }
  return 0;
}
