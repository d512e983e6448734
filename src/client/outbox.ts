// Edits in flight or waiting for the network, in the order the app made them. One is
// sent at a time, each with its own Idempotency-Key on every try, so an edit whose answer
// was lost is never applied twice. Until the stream brings the committed row back, an
// edit is shown on top of the table's copy (optimistic), and taken back if refused.
// Stored edits belong to one user (tenant and `sub` of the token): they are stored under
// that user's name, never sent with another user's token, and cleared on sign-out. An
// edit the server keeps failing (5xx) is given up after a bounded number of tries, so
// one bad edit never holds the queue; the network being down is waited out.
import { backoffDelay, DEFAULT_BACKOFF, pause, type BackoffOptions } from './backoff.js';
import { identityKey, identityOf, type Identity } from './claims.js';
import { WalcastClientError } from './errors.js';
import { sendJson, type Http } from './http.js';
import { keyPathOf, type RowKey, type TableCopy } from './table-copy.js';
import type { JsonValue, Row } from './types.js';

export type EditKind = 'insert' | 'update' | 'delete';
export type EditState = 'sending' | 'waiting' | 'confirmed';

export interface Edit {
  readonly idempotencyKey: string;
  readonly table: string;
  readonly kind: EditKind;
  /** The row's key in the table's copy; a placeholder for an insert not yet confirmed. */
  key: RowKey;
  readonly values: Row;
  /** The version the edit expects (If-Match); undefined: the table has no version column. */
  expectedVersion: JsonValue | undefined;
  state: EditState;
  /** The server's row after the edit (null after a delete). */
  confirmed?: Row | null;
  /** 5xx answers so far. */
  serverErrors: number;
  readonly settle: { resolve(row: Row | undefined): void; reject(error: unknown): void };
}

/**
 * Where unconfirmed edits outlive the page: `localStorage`, or anything with its three
 * methods (and `length`/`key()` to let a sign-out find every stored queue of the user).
 */
export interface EditStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
  readonly length?: number;
  key?(index: number): string | null;
}

export interface PersistOptions {
  readonly storage: EditStorage;
  /**
   * The queue's name within the user's (e.g. `todos`). Stored under the tenant and user of
   * the token, so another user signed in on the same browser never sends them. A token
   * that is not a JWT naming both keeps edits in memory only.
   */
  readonly key: string;
}

const STORAGE_PREFIX = 'walcast.edits:';

/** The storage item of a user's queue, and the prefix of all of that user's queues. */
export const storagePrefixOf = (identity: Identity) => `${STORAGE_PREFIX}${identityKey(identity)}:`;

/** How often a 5xx answer to an edit is retried before the edit is given up and rejected. */
export const DEFAULT_SERVER_ERROR_RETRIES = 5;

/** What is stored of an edit: enough to send it again, with the same Idempotency-Key. */
type SavedEdit = Pick<Edit, 'idempotencyKey' | 'table' | 'kind' | 'key' | 'values' | 'expectedVersion'>;

export interface OutboxDeps {
  readonly http: Http;
  readonly persist?: PersistOptions | undefined;
  /** The user of the token the outbox starts with; edits are never sent for another. */
  readonly identity: Promise<Identity | undefined>;
  readonly tenantClaim: string;
  readonly serverErrorRetries?: number | undefined;
  /** The confirmed copy of a table (undefined while it loads). */
  readonly copyOf: (table: string) => TableCopy | undefined;
  /** Something an app renders changed (edits shown, taken back, confirmed). */
  readonly changed: (table: string) => void;
  readonly backoff?: BackoffOptions;
}

const PLACEHOLDER = 'pending:';
const TABLE_LOADING = 'table_loading';
const LOADING_RETRY_MS = 100;

/** A random UUID; `crypto.randomUUID` exists only in secure contexts (https, localhost). */
export function newIdempotencyKey(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** Versions are bigint columns, sent as strings: compared as integers. */
const atLeast = (version: JsonValue | undefined, than: JsonValue | undefined): boolean => BigInt(String(version ?? 0)) >= BigInt(String(than ?? 0));

/** Whether the copy shows what a confirmed edit did: its row (same version or newer), or the row gone. */
function caughtUp(edit: Edit, copy: TableCopy): boolean {
  const base = copy.rows.get(edit.key);
  if (!edit.confirmed) return base === undefined;
  if (base === undefined) return edit.kind === 'update';
  return copy.versionColumn === null || atLeast(base[copy.versionColumn], edit.confirmed[copy.versionColumn]);
}

export class Outbox {
  readonly #edits: Edit[] = [];
  readonly #abort = new AbortController();
  #running = false;
  /** The user's storage item, once the token said who that is. */
  #storageKey: string | undefined;
  #identity: Identity | undefined;
  readonly #loaded: Promise<void>;
  /** Edits this queue confirmed or gave up: gone from storage, even where another tab stored them too. */
  readonly #done = new Set<string>();

  /** Edits a previous page left unconfirmed are sent again (their promises are gone with it). */
  constructor(private readonly deps: OutboxDeps) {
    this.#loaded = this.load();
    void this.#loaded.then(() => this.drain());
  }

  /** Edits not yet confirmed by the server (sending, or waiting for the network). */
  get unconfirmed(): number {
    return this.#edits.filter((edit) => edit.state !== 'confirmed').length;
  }

  add(edit: Omit<Edit, 'idempotencyKey' | 'state' | 'key' | 'settle' | 'serverErrors'> & { key?: RowKey }): Promise<Row | undefined> {
    return new Promise((resolve, reject) => {
      const idempotencyKey = newIdempotencyKey();
      this.#edits.push({
        ...edit,
        idempotencyKey,
        key: edit.key ?? `${PLACEHOLDER}${idempotencyKey}`,
        state: 'sending',
        serverErrors: 0,
        settle: { resolve, reject },
      });
      this.save();
      this.deps.changed(edit.table);
      void this.drain();
    });
  }

  /** The rows of `copy` as the app should see them: confirmed, with edits on top. */
  view(copy: TableCopy): Map<RowKey, Row> {
    const rows = new Map(copy.rows);
    for (const edit of this.#edits) {
      if (edit.table !== copy.table) continue;
      if (edit.kind === 'delete') {
        rows.delete(edit.key);
      } else if (edit.confirmed) {
        rows.set(edit.key, edit.confirmed);
      } else if (edit.kind === 'insert') {
        rows.set(edit.key, edit.values);
      } else {
        const current = rows.get(edit.key);
        if (current) rows.set(edit.key, { ...current, ...edit.values });
      }
    }
    return rows;
  }

  /**
   * Drops confirmed edits the table's copy has caught up with: the committed row arrived
   * (same or newer version), or it is gone.
   */
  reconcile(copy: TableCopy): void {
    const before = this.#edits.length;
    for (let index = this.#edits.length - 1; index >= 0; index--) {
      const edit = this.#edits[index]!;
      if (edit.table === copy.table && edit.state === 'confirmed' && caughtUp(edit, copy)) this.#edits.splice(index, 1);
    }
    if (this.#edits.length !== before) this.deps.changed(copy.table);
  }

  /** Unconfirmed edits stay in storage (when persisted): the next page sends them. */
  close(): void {
    this.#abort.abort();
    this.rejectAll(new WalcastClientError(0, 'closed', 'the subscription was closed before this edit was confirmed'));
  }

  /** Sign-out: every unconfirmed edit is dropped, here and in storage, and rejected. */
  clear(): void {
    this.rejectAll(new WalcastClientError(0, 'cleared', 'pending edits were cleared (sign-out) before this edit was confirmed'));
    if (this.#storageKey) this.deps.persist?.storage.removeItem(this.#storageKey);
  }

  private rejectAll(error: WalcastClientError): void {
    for (const edit of this.#edits.splice(0)) {
      if (edit.state !== 'confirmed') edit.settle.reject(error);
      this.deps.changed(edit.table);
    }
  }

  private async drain(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      await this.#loaded;
      let attempt = 0;
      for (let edit = this.nextToSend(); edit && !this.#abort.signal.aborted; edit = this.nextToSend()) {
        try {
          await this.assertSameUser();
          await this.sendOne(edit);
          attempt = 0;
        } catch (error) {
          if (this.#abort.signal.aborted) return;
          if (error instanceof WalcastClientError && error.code === 'signed_out') {
            this.#abort.abort();
            this.rejectAll(error);
            return;
          }
          const serverError = error instanceof WalcastClientError && error.status >= 500;
          if (serverError) edit.serverErrors++;
          const givenUp = serverError && edit.serverErrors > (this.deps.serverErrorRetries ?? DEFAULT_SERVER_ERROR_RETRIES);
          if (error instanceof WalcastClientError && error.retryable && !givenUp) {
            edit.state = 'waiting';
            this.deps.changed(edit.table);
            // A table being read is back in moments; the network may not be.
            const delay = error.code === TABLE_LOADING ? LOADING_RETRY_MS : backoffDelay(attempt++, this.deps.backoff ?? DEFAULT_BACKOFF);
            await pause(delay, this.#abort.signal);
            continue;
          }
          attempt = 0;
          this.remove(edit);
          edit.settle.reject(error);
        }
      }
    } finally {
      this.#running = false;
    }
  }

  /** The page signed in as someone else since: this user's edits must not go with that token. */
  private async assertSameUser(): Promise<void> {
    const current = identityOf(await this.deps.http.tokens.current(), this.deps.tenantClaim);
    const owner = this.#identity;
    if (owner && (!current || identityKey(current) !== identityKey(owner))) {
      throw new WalcastClientError(0, 'signed_out', "the token now names another user: this user's pending edits are not sent with it");
    }
  }

  private nextToSend(): Edit | undefined {
    return this.#edits.find((edit) => edit.state !== 'confirmed');
  }

  private async sendOne(edit: Edit): Promise<void> {
    if (edit.key.startsWith(PLACEHOLDER) && edit.kind !== 'insert') {
      throw new WalcastClientError(404, 'not_found', 'the row this edit changes was never saved');
    }
    // Status 0: retried like a network failure, once the table has been read again.
    const copy = this.deps.copyOf(edit.table);
    if (!copy) throw new WalcastClientError(0, TABLE_LOADING, `${edit.table} is being read`);
    const path = `/v1/tables/${encodeURIComponent(edit.table)}/rows`;
    const headers: Record<string, string> = { 'idempotency-key': edit.idempotencyKey };
    if (edit.expectedVersion !== undefined && edit.expectedVersion !== null) headers['if-match'] = `"${String(edit.expectedVersion)}"`;
    const target = edit.kind === 'insert' ? path : `${path}/${keyPathOf(edit.key)}`;
    const signal = this.#abort.signal;
    if (edit.kind === 'delete') {
      await sendJson(this.deps.http, { method: 'DELETE', path: target, headers, signal });
      this.confirm(edit, copy, null);
      return;
    }
    const answer = await sendJson<{ row: Row }>(this.deps.http, {
      method: edit.kind === 'insert' ? 'POST' : 'PATCH',
      path: target,
      headers,
      body: edit.kind === 'insert' ? edit.values : { set: edit.values },
      signal,
    });
    this.confirm(edit, copy, answer.row);
  }

  /** The edit is committed; later edits of the same row now expect what it produced. */
  private confirm(edit: Edit, copy: TableCopy, row: Row | null): void {
    const oldKey = edit.key;
    const newKey = row ? copy.keyOf(row) : oldKey;
    const newVersion = row && copy.versionColumn !== null ? row[copy.versionColumn] : undefined;
    for (const later of this.#edits) {
      if (later === edit || later.key !== oldKey || later.state === 'confirmed') continue;
      later.key = newKey;
      if (newVersion !== undefined) later.expectedVersion = newVersion;
    }
    edit.key = newKey;
    edit.confirmed = row;
    edit.state = 'confirmed';
    this.finished(edit.idempotencyKey);
    this.save();
    edit.settle.resolve(row ?? undefined);
    // Without a version column there is nothing to recognise the echo by: show the
    // server's row in the copy now; the event brings the same row again.
    if (copy.versionColumn === null) {
      if (row) copy.rows.set(newKey, row);
      else copy.rows.delete(oldKey);
    }
    this.reconcile(copy);
    this.deps.changed(edit.table);
  }

  private remove(edit: Edit): void {
    const index = this.#edits.indexOf(edit);
    if (index >= 0) this.#edits.splice(index, 1);
    this.finished(edit.idempotencyKey);
    this.save();
    this.deps.changed(edit.table);
  }

  /**
   * Remembered so another tab's copy of it is not stored again; the last thousand only (a
   * tab open for weeks): an older one another tab still holds is sent once more, and its
   * key answers it without a second change.
   */
  private finished(idempotencyKey: string): void {
    this.#done.add(idempotencyKey);
    if (this.#done.size > 1_000) this.#done.delete(this.#done.values().next().value!);
  }

  private save(): void {
    const persist = this.deps.persist;
    // Once closed, what is stored is what the next page sends.
    if (!persist || !this.#storageKey || this.#abort.signal.aborted) return;
    // Other tabs of the user store their edits in the same item: theirs are kept (an edit
    // made offline in one tab outlives the other's saves), less those this queue finished.
    const known = new Set(this.#edits.map((edit) => edit.idempotencyKey));
    const theirs = readSaved(persist.storage.getItem(this.#storageKey)).filter(
      (saved) => !known.has(saved.idempotencyKey) && !this.#done.has(saved.idempotencyKey),
    );
    const saved: SavedEdit[] = [
      ...theirs,
      ...this.#edits
        .filter((edit) => edit.state !== 'confirmed')
        .map(({ idempotencyKey, table, kind, key, values, expectedVersion }) => ({ idempotencyKey, table, kind, key, values, expectedVersion })),
    ];
    if (saved.length === 0) persist.storage.removeItem(this.#storageKey);
    else persist.storage.setItem(this.#storageKey, JSON.stringify(saved));
  }

  /** The user's stored edits go first: they were made before any of this page's. */
  private async load(): Promise<void> {
    this.#identity = await this.deps.identity;
    const persist = this.deps.persist;
    if (!persist || !this.#identity) return;
    this.#storageKey = `${storagePrefixOf(this.#identity)}${persist.key}`;
    const stored = readSaved(persist.storage.getItem(this.#storageKey));
    this.#edits.unshift(
      ...stored.map((saved): Edit => ({ ...saved, state: 'waiting', serverErrors: 0, settle: { resolve: () => undefined, reject: () => undefined } })),
    );
    this.save();
    for (const table of new Set(stored.map((saved) => saved.table))) this.deps.changed(table);
  }
}

function readSaved(text: string | null): SavedEdit[] {
  if (!text) return [];
  try {
    const saved = JSON.parse(text) as unknown;
    return Array.isArray(saved) ? (saved as SavedEdit[]) : [];
  } catch {
    return [];
  }
}

/** Removes every stored queue of a user (sign-out), also those of pages closed since. */
export function clearStoredEdits(storage: EditStorage, identity: Identity): void {
  const prefix = storagePrefixOf(identity);
  if (storage.length === undefined || !storage.key) return;
  const keys: string[] = [];
  for (let index = 0; index < storage.length; index++) {
    const key = storage.key(index);
    if (key?.startsWith(prefix)) keys.push(key);
  }
  for (const key of keys) storage.removeItem(key);
}
