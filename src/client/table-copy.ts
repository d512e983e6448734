// The rows of one table as the server has committed them: a snapshot, then the stream's
// change events applied in order. Events the snapshot already holds are skipped.
import { seenBy, type SeenBy } from './cursor.js';
import type { ChangeEvent, JsonValue, Row, Snapshot } from './types.js';

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

export class TableCopy {
  readonly table: string;
  readonly keyColumns: readonly string[];
  readonly versionColumn: string | null;
  readonly rows = new Map<RowKey, Row>();
  private readonly seen: SeenBy;

  constructor(snapshot: Snapshot) {
    this.table = snapshot.table;
    this.keyColumns = snapshot.keyColumns;
    this.versionColumn = snapshot.versionColumn;
    this.seen = seenBy(snapshot.cursor);
    for (const row of snapshot.rows) this.rows.set(this.keyOf(row), row);
  }

  keyOf(values: Row): RowKey {
    return rowKeyOf(this.keyColumns, values);
  }

  /** Applies one change; false when the snapshot already held it. */
  apply(event: ChangeEvent): boolean {
    if (this.seen(event)) return false;
    const key = this.keyOf(event.key);
    if (event.op === 'delete') {
      this.rows.delete(key);
      return true;
    }
    const row = event.row ?? {};
    // A key change: the old key comes with `old` (or the key) of the replica identity.
    if (event.op === 'update' && event.old) {
      const oldKey = this.keyOf(event.old);
      if (oldKey !== key) this.rows.delete(oldKey);
    }
    // Unchanged TOASTed values are left out of `row` (listed in `unchanged`): keep ours.
    const previous = event.unchanged && event.unchanged.length > 0 ? this.rows.get(key) : undefined;
    this.rows.set(key, previous ? { ...previous, ...row } : row);
    return true;
  }
}
