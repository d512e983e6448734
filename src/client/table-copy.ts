// The rows of one table as the server has committed them: a snapshot, read in pages,
// then the stream's change events applied in order. Events the snapshot already holds
// are skipped. While pages still come, an event for a row not paged in yet wins over the
// page (the page is older). A window keeps only the first `limit` rows in key order and
// says when a row leaving it leaves it short, so it can be read again.
import { seenBy, type SeenBy } from './cursor.js';
import type { ChangeEvent, JsonValue, Row, SnapshotMeta } from './types.js';

/** A row's identity within its table: its key values, in key order, as JSON. */
export type RowKey = string;

export function rowKeyOf(keyColumns: readonly string[], values: Row): RowKey {
  return JSON.stringify(keyColumns.map((column) => values[column] ?? null));
}

/** The `:key` path segment of an edit: key values joined by `,`, each percent-encoded. */
export function keyPathOf(key: RowKey): string {
  return (JSON.parse(key) as JsonValue[]).map((value) => encodeURIComponent(textOf(value))).join(',');
}

function textOf(value: JsonValue): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

const INTEGER = /^-?\d+$/;

/**
 * Key values in the order Postgres pages them for the key types a window can follow:
 * numbers and integer strings (int8) by value, other strings (uuid, ISO timestamps,
 * text under the C collation) by code unit.
 */
export function compareKeyValues(a: JsonValue | undefined, b: JsonValue | undefined): number {
  if (a === b) return 0;
  if (a === undefined || a === null) return 1;
  if (b === undefined || b === null) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const [x, y] = [textOf(a), textOf(b)];
  if (INTEGER.test(x) && INTEGER.test(y)) {
    const [m, n] = [BigInt(x), BigInt(y)];
    return m < n ? -1 : m > n ? 1 : 0;
  }
  return x < y ? -1 : x > y ? 1 : 0;
}

export interface WindowOptions {
  /** How many rows, first in key order. */
  readonly limit: number;
}

export class TableCopy {
  readonly table: string;
  readonly keyColumns: readonly string[];
  readonly versionColumn: string | null;
  readonly cursor: string;
  readonly rows = new Map<RowKey, Row>();
  /** Every page is in. */
  complete = false;
  /** A window that lost a row while more lie beyond it: read it again. */
  short = false;
  private readonly seen: SeenBy;
  /** Keys events changed while pages still come: a later page's (older) row for them is ignored. */
  private readonly touched = new Set<RowKey>();
  /** Updates that left out unchanged TOASTed values of rows not paged in yet: merged onto the page's row. */
  private readonly patches = new Map<RowKey, Row>();
  /** A full window's last key: rows after it are outside (the server has more). */
  private boundary: Row | undefined;

  constructor(
    meta: SnapshotMeta,
    private readonly window?: WindowOptions,
  ) {
    this.table = meta.table;
    this.keyColumns = meta.keyColumns;
    this.versionColumn = meta.versionColumn;
    this.cursor = meta.cursor;
    this.seen = seenBy(meta.cursor);
  }

  keyOf(values: Row): RowKey {
    return rowKeyOf(this.keyColumns, values);
  }

  /** Rows of the next page, in key order. */
  addPage(rows: readonly Row[]): void {
    for (const row of rows) {
      const key = this.keyOf(row);
      if (this.touched.has(key)) continue;
      const patch = this.patches.get(key);
      this.rows.set(key, patch ? { ...row, ...patch } : row);
    }
  }

  /** The last page is in. A window read with `limit` rows back is full: more may follow. */
  finish(): void {
    this.complete = true;
    this.touched.clear();
    this.patches.clear();
    if (this.window && this.rows.size >= this.window.limit) this.boundary = this.last();
  }

  /** Applies one change; false when the snapshot already held it or it falls outside a window. */
  apply(event: ChangeEvent): boolean {
    if (this.seen(event)) return false;
    const key = this.keyOf(event.key);
    if (!this.complete) this.touched.add(key);
    if (event.op === 'delete') return this.remove(key);
    const row = event.row ?? {};
    let changed = false;
    // A key change: the old key comes with `old` (or the key) of the replica identity.
    if (event.op === 'update' && event.old) {
      const oldKey = this.keyOf(event.old);
      if (oldKey !== key) changed = this.remove(oldKey);
    }
    if (this.outside(event.key)) return changed;
    // Unchanged TOASTed values are left out of `row` (listed in `unchanged`): keep ours.
    const partial = event.unchanged !== undefined && event.unchanged.length > 0;
    const previous = partial ? this.rows.get(key) : undefined;
    if (partial && !previous && !this.complete) {
      this.patches.set(key, { ...this.patches.get(key), ...row });
      this.touched.delete(key);
      return changed;
    }
    this.rows.set(key, previous ? { ...previous, ...row } : row);
    this.trimWindow();
    return true;
  }

  private remove(key: RowKey): boolean {
    const removed = this.rows.delete(key);
    if (removed && this.window && this.boundary && this.rows.size < this.window.limit) this.short = true;
    return removed;
  }

  private compareKeys(a: Row, b: Row): number {
    for (const column of this.keyColumns) {
      const order = compareKeyValues(a[column], b[column]);
      if (order !== 0) return order;
    }
    return 0;
  }

  private last(): Row | undefined {
    let last: Row | undefined;
    for (const row of this.rows.values()) if (last === undefined || this.compareKeys(row, last) > 0) last = row;
    return last;
  }

  /** Past a full window's boundary: rows the server would page in before it are unknown here. */
  private outside(key: Row): boolean {
    return this.boundary !== undefined && this.compareKeys(key, this.boundary) > 0;
  }

  /** A window that grew past its limit drops its last rows; it is full from then on. */
  private trimWindow(): void {
    if (!this.window) return;
    if (this.rows.size <= this.window.limit) return;
    while (this.rows.size > this.window.limit) this.rows.delete(this.keyOf(this.last()!));
    this.boundary = this.last();
  }
}
