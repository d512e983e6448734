// A live copy of some tables for one tenant: each table's snapshot, then the stream from
// a position no later than any snapshot, each table skipping what its snapshot holds
// (exact hand-off, DESIGN §4). Resumes after drops; reads a table again on `truncate`
// or `invalidate`, every table on `reset`; shows edits at once and takes back refused ones.
import type { EventSourceMessage } from 'eventsource-parser';
import type { BackoffOptions } from './backoff.js';
import { backoffDelay, DEFAULT_BACKOFF, pause } from './backoff.js';
import { WalcastClientError } from './errors.js';
import { EventStream, type StreamStatus } from './event-stream.js';
import { sendJson, type Http } from './http.js';
import { Outbox, type PersistOptions } from './outbox.js';
import { TableCopy, type RowKey } from './table-copy.js';
import type { ChangeEvent, Member, PresenceEvent, RefetchEvent, Row, Snapshot } from './types.js';

export interface SubscribeOptions {
  /** `schema.table` or `table` (schema public), as exposed. */
  readonly tables: readonly string[];
  /** PostgREST-style filters applied to every table, e.g. `done=eq.false`. */
  readonly where?: string | readonly string[];
  /** Presence rooms whose members this subscription follows. */
  readonly rooms?: readonly string[];
  /** Order of `rows()`; default: by key. */
  readonly orderBy?: (a: Row, b: Row) => number;
  /**
   * Keep unconfirmed edits in `storage` under `key` (e.g. localStorage, `todos:<user id>`),
   * so edits made offline are sent when the app next subscribes, even after a reload.
   */
  readonly persistEdits?: PersistOptions;
}

export type SubscriptionStatus = 'loading' | 'live' | 'reconnecting' | 'stopped';

type Listeners = {
  rows: (table: string) => void;
  presence: (room: string) => void;
  status: (status: SubscriptionStatus, error?: WalcastClientError) => void;
};

interface TableState {
  copy: TableCopy | undefined;
  /** Bumped on each (re)load; a load that finds it changed is stale. */
  generation: number;
  /** Change events that arrived while the table was being read. */
  buffer: ChangeEvent[];
}

/** `table` means `public.table`, as walcast resolves it. */
export const qualified = (table: string) => (table.includes('.') ? table : `public.${table}`);

const KEY_ORDER = new Intl.Collator(undefined, { numeric: true });

export class Subscription {
  #status: SubscriptionStatus = 'loading';
  #error: WalcastClientError | undefined;
  readonly #tables = new Map<string, TableState>();
  readonly #rooms = new Map<string, Map<string, Member>>();
  readonly #listeners: { [K in keyof Listeners]: Set<Listeners[K]> } = { rows: new Set(), presence: new Set(), status: new Set() };
  readonly #views = new Map<string, Row[]>();
  readonly #viewKeys = new WeakMap<Row, RowKey>();
  readonly #abort = new AbortController();
  readonly #stream: EventStream;
  readonly #outbox: Outbox;
  readonly #ready: Promise<void>;
  #settleReady!: { resolve(): void; reject(error: unknown): void };
  /** The ID of the last event received: where the stream resumes. */
  #lastEventId: string | undefined;
  /** Before any event: the cursor of the first snapshot read since the stream opened. */
  #firstCursor: string | undefined;
  #streamOpen = false;

  constructor(
    private readonly http: Http,
    private readonly options: SubscribeOptions,
    private readonly backoff: BackoffOptions = DEFAULT_BACKOFF,
  ) {
    if (options.tables.length === 0) throw new TypeError('walcast: subscribe to at least one table');
    for (const table of options.tables) this.#tables.set(qualified(table), { copy: undefined, generation: 0, buffer: [] });
    this.#ready = new Promise((resolve, reject) => {
      this.#settleReady = { resolve, reject };
    });
    this.#ready.catch(() => undefined);
    this.#outbox = new Outbox({
      http,
      persist: options.persistEdits,
      copyOf: (table) => this.#tables.get(table)?.copy,
      changed: (table) => this.changed(table),
      backoff,
    });
    this.#stream = new EventStream({
      http,
      path: () => this.streamPath(),
      resumeFrom: () => this.#lastEventId ?? this.#firstCursor,
      onOpen: () => this.opened(),
      onMessage: (message) => this.received(message),
      onStatus: (status, error) => this.streamStatus(status, error),
      backoff,
    });
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

  /** The table's rows as this client should show them: committed, with its own edits on top. */
  rows(table: string): readonly Row[] {
    const name = qualified(table);
    const cached = this.#views.get(name);
    if (cached) return cached;
    const copy = this.#tables.get(name)?.copy;
    if (!copy) return [];
    const view = this.#outbox.view(copy);
    for (const [key, row] of view) this.#viewKeys.set(row, key);
    const rows = [...view.values()];
    rows.sort(this.options.orderBy ?? ((a, b) => compareKeys(copy.keyColumns, a, b)));
    this.#views.set(name, rows);
    return rows;
  }

  /** Who is in `room` (one entry per connection), as the last presence events said. */
  members(room: string): readonly Member[] {
    return [...(this.#rooms.get(room)?.values() ?? [])];
  }

  /** Inserts a row; it shows at once and is confirmed (or taken back) by the server. */
  insert(table: string, values: Row): Promise<Row> {
    const name = qualified(table);
    this.copyFor(name);
    return this.#outbox.add({ table: name, kind: 'insert', values, expectedVersion: undefined }) as Promise<Row>;
  }

  /**
   * Updates `row` (a row from `rows()`, or any object with its key) with `set`. The edit
   * expects the version `row` carries; a 409 rejects with WalcastConflictError and its
   * `current` row, and the change is taken back.
   */
  update(table: string, row: Row, set: Row): Promise<Row> {
    const { name, key, expectedVersion } = this.target(table, row);
    return this.#outbox.add({ table: name, kind: 'update', key, values: set, expectedVersion }) as Promise<Row>;
  }

  /** Deletes `row`, guarded by its version like `update`. */
  async remove(table: string, row: Row): Promise<void> {
    const { name, key, expectedVersion } = this.target(table, row);
    await this.#outbox.add({ table: name, kind: 'delete', key, values: {}, expectedVersion });
  }

  close(): void {
    this.#abort.abort();
    this.#stream.close();
    this.#outbox.close();
    this.#settleReady.reject(new WalcastClientError(0, 'closed', 'the subscription was closed'));
    this.setStatus('stopped');
  }

  private target(table: string, row: Row) {
    const name = qualified(table);
    const copy = this.copyFor(name);
    const key = this.#viewKeys.get(row) ?? copy.keyOf(row);
    const versionColumn = copy.versionColumn;
    const current = this.#outbox.view(copy).get(key);
    const expectedVersion = versionColumn === null ? undefined : row[versionColumn] ?? current?.[versionColumn];
    return { name, key, expectedVersion };
  }

  private copyFor(name: string): TableCopy {
    const copy = this.#tables.get(name)?.copy;
    if (!copy) throw new WalcastClientError(0, 'not_loaded', `${name} is not loaded yet: await subscription.ready()`);
    return copy;
  }

  private streamPath(): string {
    const query = new URLSearchParams({ tables: [...this.#tables.keys()].join(',') });
    for (const where of [this.options.where ?? []].flat()) query.append('where', where);
    if (this.options.rooms && this.options.rooms.length > 0) query.set('rooms', this.options.rooms.join(','));
    return `/v1/stream?${query.toString()}`;
  }

  /** With no position to resume from, the stream starts now: every table is read again. */
  private opened(): void {
    if (this.#lastEventId === undefined && this.#firstCursor === undefined) this.reloadAll();
  }

  private reloadAll(): void {
    this.#firstCursor = undefined;
    void this.loadInTurn([...this.#tables.keys()]);
  }

  /** One after another, so the first cursor is the earliest: resuming there misses nothing. */
  private async loadInTurn(tables: readonly string[]): Promise<void> {
    const loads = tables.map((table) => this.beginLoad(table));
    for (const [index, table] of tables.entries()) await this.load(table, loads[index]!);
  }

  private beginLoad(table: string): number {
    const state = this.#tables.get(table)!;
    state.copy = undefined;
    state.buffer = [];
    return ++state.generation;
  }

  private async load(table: string, generation: number): Promise<void> {
    const state = this.#tables.get(table)!;
    for (let attempt = 0; !this.#abort.signal.aborted && state.generation === generation; attempt++) {
      try {
        const snapshot = await sendJson<Snapshot>(this.http, { method: 'GET', path: this.snapshotPath(table), signal: this.#abort.signal });
        if (state.generation !== generation) return;
        const copy = new TableCopy(snapshot);
        for (const event of state.buffer) copy.apply(event);
        state.buffer = [];
        state.copy = copy;
        this.#firstCursor ??= snapshot.cursor;
        this.#outbox.reconcile(copy);
        this.changed(table);
        return;
      } catch (error) {
        if (this.#abort.signal.aborted) return;
        if (error instanceof WalcastClientError && !error.retryable) return this.stop(error);
        await pause(backoffDelay(attempt, this.backoff), this.#abort.signal);
      }
    }
  }

  private snapshotPath(table: string): string {
    const query = new URLSearchParams();
    for (const where of [this.options.where ?? []].flat()) query.append('where', where);
    const search = query.toString();
    return `/v1/tables/${encodeURIComponent(table)}/rows${search ? `?${search}` : ''}`;
  }

  private received(message: EventSourceMessage): void {
    if (message.id) this.#lastEventId = message.id;
    switch (message.event) {
      case 'change':
        return this.applyChange(JSON.parse(message.data) as ChangeEvent);
      case 'truncate':
      case 'invalidate': {
        const { table } = JSON.parse(message.data) as RefetchEvent;
        if (this.#tables.has(table)) void this.load(table, this.beginLoad(table));
        return;
      }
      case 'reset':
        return this.reloadAll();
      case 'presence':
        return this.applyPresence(JSON.parse(message.data) as PresenceEvent);
      case 'auth_expired':
        if (this.http.tokens.refreshable) void this.http.tokens.refresh().catch(() => undefined);
        return;
    }
  }

  private applyChange(event: ChangeEvent): void {
    const state = this.#tables.get(event.table);
    if (!state) return;
    if (!state.copy) {
      state.buffer.push(event);
      return;
    }
    if (!state.copy.apply(event)) return;
    this.#outbox.reconcile(state.copy);
    this.changed(event.table);
  }

  private applyPresence(event: PresenceEvent): void {
    const members = this.#rooms.get(event.room) ?? new Map<string, Member>();
    this.#rooms.set(event.room, members);
    const id = (member: Member) => `${member.user}\u0000${member.connection}`;
    if (event.op === 'sync') {
      members.clear();
      for (const member of event.members) members.set(id(member), member);
    } else if (event.op === 'leave') {
      members.delete(id(event.member));
    } else {
      members.set(id(event.member), event.member);
    }
    for (const listener of this.#listeners.presence) listener(event.room);
  }

  private streamStatus(status: StreamStatus, error?: WalcastClientError): void {
    if (status === 'stopped') {
      if (error) this.stop(error);
      return;
    }
    this.#streamOpen = status === 'open';
    this.refreshStatus();
  }

  private allLoaded(): boolean {
    return [...this.#tables.values()].every((state) => state.copy !== undefined);
  }

  private changed(table: string): void {
    this.#views.delete(table);
    this.refreshStatus();
    for (const listener of this.#listeners.rows) listener(table);
  }

  /** Live: the stream is open and every table read; before that, loading; after, reconnecting. */
  private refreshStatus(): void {
    if (this.#status === 'stopped') return;
    if (!this.#streamOpen) this.setStatus(this.#status === 'loading' ? 'loading' : 'reconnecting');
    else this.setStatus(this.allLoaded() ? 'live' : 'loading');
  }

  private stop(error: WalcastClientError): void {
    if (this.#status === 'stopped') return;
    this.#error = error;
    this.#stream.close();
    this.#abort.abort();
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

/** Rows in key order; numbers and numeric strings (int8) by value. */
function compareKeys(keyColumns: readonly string[], a: Row, b: Row): number {
  for (const column of keyColumns) {
    const [x, y] = [a[column], b[column]];
    // An insert not yet confirmed has no key from the server yet: it goes last.
    if (x === undefined || y === undefined) return x === undefined ? (y === undefined ? 0 : 1) : -1;
    const order = KEY_ORDER.compare(String(x), String(y));
    if (order !== 0) return order;
  }
  return 0;
}
