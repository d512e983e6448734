// Row changes → typed change events (DESIGN §3): key, row, old, changed, unchanged,
// tenant routing and hidden columns. Pure: one decoded change in, zero or more events out.
// Events are written as JSON text directly (values.ts): once per change, for every client.
import { UNCHANGED_TOAST, type Relation, type RowChange, type Tuple } from '../replication/pgoutput.js';
import type { Lsn } from '../replication/lsn.js';
import type { ChangeOp } from '../wire/payloads.js';
import { formatEventId, type EventId } from './event-id.js';
import type { ChangeEvent, RowImage } from './event.js';
import { tableName, type Exposure, type TableName } from './exposure.js';
import { decoderFor, type ColumnType, type JsonText, type ValueDecoder } from './values.js';

export interface TransactionContext {
  readonly commitLsn: Lsn;
  readonly lsnText: string;
  readonly xid: number;
  readonly committedAt: string;
  /** `,"xid":…,"lsn":…,"committedAt":…}`: the same closing fields on each of its events. */
  readonly jsonTail: string;
}

/** Everything about a relation that is the same for each of its changes, computed once. */
export interface TableShape {
  readonly relid: number;
  readonly table: TableName;
  readonly tableJson: string;
  readonly names: readonly string[];
  /** Column name → index in the relation's tuples (hidden columns included). */
  readonly indexOf: ReadonlyMap<string, number>;
  /** `"name":` per column, escaped once. */
  readonly jsonKeys: readonly string[];
  readonly decoders: readonly ValueDecoder[];
  readonly visible: readonly boolean[];
  readonly keyIndexes: readonly number[];
  /** Index of the tenant column; -1: every tenant may read the table; -2: the column is not published. */
  readonly tenantIndex: number;
}

/**
 * How a listed-but-not-exposed table is shaped: every tenant reads it, nothing hidden,
 * keyed by its replica identity (the primary key unless the DBA chose otherwise).
 */
export function listedExposure(relation: Relation): Exposure {
  return {
    relid: relation.relationOid,
    table: tableName(relation.schema, relation.name),
    publication: '',
    tenantColumn: null,
    versionColumn: null,
    primaryKey: [],
    hiddenColumns: [],
    writableColumns: null,
  };
}

/**
 * A column list on the publication can leave a tenant or key column out of what is
 * sent; then `tenantIndex` is -2 and no event is routed (guessing would leak).
 */
export function shapeOf(relation: Relation, exposure: Exposure, typeOf: (oid: number) => ColumnType): TableShape {
  const names = relation.columns.map((column) => column.name);
  const hidden = new Set(exposure.hiddenColumns);
  const keyNames = exposure.primaryKey.length > 0
    ? exposure.primaryKey
    : relation.columns.filter((column) => column.isIdentity).map((column) => column.name);
  // A hidden column never leaves the server, not even as part of a key.
  const keyIndexes = keyNames.map((name) => names.indexOf(name)).filter((index) => index >= 0 && !hidden.has(names[index]!));
  const tenantIndex = exposure.tenantColumn === null ? -1 : names.indexOf(exposure.tenantColumn);
  return {
    relid: relation.relationOid,
    // The relation's own name: a rename reaches events even before it is announced.
    table: tableName(relation.schema, relation.name),
    tableJson: JSON.stringify(tableName(relation.schema, relation.name)),
    names,
    indexOf: new Map(names.map((name, index) => [name, index])),
    jsonKeys: names.map((name) => `${JSON.stringify(name)}:`),
    decoders: relation.columns.map((column) => decoderFor(typeOf(column.typeOid))),
    visible: names.map((name) => !hidden.has(name)),
    keyIndexes: keyIndexes.length > 0 ? keyIndexes : names.flatMap((name, index) => (hidden.has(name) ? [] : [index])),
    tenantIndex: tenantIndex === -1 && exposure.tenantColumn !== null ? -2 : tenantIndex,
  };
}

function decodeRow(shape: TableShape, tuple: Tuple, fillFrom: Tuple | null): { row: JsonText; unchanged: string[] } {
  let row = '';
  const unchanged: string[] = [];
  for (let i = 0; i < tuple.length; i++) {
    if (!shape.visible[i]) continue;
    let value = tuple[i];
    if (value === UNCHANGED_TOAST && fillFrom) value = fillFrom[i];
    if (value === UNCHANGED_TOAST || value === undefined) {
      unchanged.push(shape.names[i]!);
      continue;
    }
    row += `${row === '' ? '' : ','}${shape.jsonKeys[i]!}${value === null ? 'null' : shape.decoders[i]!(value)}`;
  }
  return { row: `{${row}}` as JsonText, unchanged };
}

function keyOf(shape: TableShape, tuple: Tuple): JsonText {
  let key = '';
  for (const index of shape.keyIndexes) {
    const value = tuple[index];
    if (value === UNCHANGED_TOAST || value === undefined) continue;
    key += `${key === '' ? '' : ','}${shape.jsonKeys[index]!}${value === null ? 'null' : shape.decoders[index]!(value)}`;
  }
  return `{${key}}` as JsonText;
}

/** The tenant a tuple belongs to: null for a tenant-less table, undefined when unknown or NULL. */
export function tenantOf(shape: TableShape, tuple: Tuple | null): string | null | undefined {
  if (shape.tenantIndex === -1) return null;
  if (shape.tenantIndex < 0) return undefined;
  const value = tuple?.[shape.tenantIndex];
  return typeof value === 'string' ? value : undefined;
}

/** Columns whose value differs between two full tuples (unchanged TOAST counts as equal). */
function changedColumns(shape: TableShape, old: Tuple, next: Tuple): string[] {
  const changed: string[] = [];
  for (let i = 0; i < next.length; i++) {
    if (!shape.visible[i] || next[i] === UNCHANGED_TOAST) continue;
    if (old[i] !== next[i]) changed.push(shape.names[i]!);
  }
  return changed;
}

interface ChangeParts {
  readonly op: ChangeOp;
  readonly tenant: string | null;
  readonly key: JsonText;
  readonly row?: JsonText | undefined;
  readonly old?: JsonText | undefined;
  readonly changed?: string[] | undefined;
  readonly unchanged?: string[] | undefined;
}

/** Writes the fields in the order of DESIGN §3, leaving out what the change does not have. */
function changeJson(parts: ChangeParts, id: EventId, shape: TableShape, txn: TransactionContext): string {
  let json = `{"id":"${id}","table":${shape.tableJson},"op":"${parts.op}","tenant":${parts.tenant === null ? 'null' : JSON.stringify(parts.tenant)},"key":${parts.key}`;
  if (parts.row) json += `,"row":${parts.row}`;
  if (parts.old) json += `,"old":${parts.old}`;
  if (parts.changed) json += `,"changed":${JSON.stringify(parts.changed)}`;
  if (parts.unchanged) json += `,"unchanged":${JSON.stringify(parts.unchanged)}`;
  return json + txn.jsonTail;
}

function toEvent(parts: ChangeParts, id: EventId, image: RowImage): ChangeEvent {
  return {
    id,
    type: 'change',
    op: parts.op,
    tenant: parts.tenant,
    relid: image.shape.relid,
    table: image.shape.table,
    commitLsn: image.txn.commitLsn,
    xid: image.txn.xid,
    json: changeJson(parts, id, image.shape, image.txn),
    image,
  };
}

/**
 * The events for one row change at `position` in its transaction. Usually one; an update
 * that moves a row to another tenant is a delete for the old tenant and an insert for the
 * new one (same ID: no stream ever sees both). A row whose tenant is NULL or unknown goes
 * to nobody: guessing would leak it.
 */
export function changeEvents(change: RowChange, shape: TableShape, txn: TransactionContext, position: number): ChangeEvent[] {
  const id = formatEventId(txn.commitLsn, position);
  switch (change.tag) {
    case 'insert': {
      const tenant = tenantOf(shape, change.new);
      if (tenant === undefined) return [];
      const { row } = decodeRow(shape, change.new, null);
      const image: RowImage = { shape, txn, new: change.new, old: null, before: null };
      return [toEvent({ op: 'insert', tenant, key: keyOf(shape, change.new), row }, id, image)];
    }
    case 'delete': {
      const before = change.old ?? change.key;
      const tenant = tenantOf(shape, before);
      if (tenant === undefined || before === null) return [];
      const old = change.old ? decodeRow(shape, change.old, null).row : undefined;
      const image: RowImage = { shape, txn, new: null, old: change.old, before };
      return [toEvent({ op: 'delete', tenant, key: keyOf(shape, before), old }, id, image)];
    }
    case 'update': {
      // The old row (FULL), else the old identity columns when they changed, else nothing.
      const before = change.old ?? change.key;
      const tenant = tenantOf(shape, change.new);
      const oldTenant = before ? tenantOf(shape, before) : tenant;
      const { row, unchanged } = decodeRow(shape, change.new, change.old);
      const old = change.old ? decodeRow(shape, change.old, null).row : undefined;
      if (before && oldTenant !== undefined && oldTenant !== tenant) {
        const events = [toEvent({ op: 'delete', tenant: oldTenant, key: keyOf(shape, before), old }, id, { shape, txn, new: null, old: change.old, before })];
        if (tenant !== undefined) events.push(toEvent({ op: 'insert', tenant, key: keyOf(shape, change.new), row }, id, { shape, txn, new: change.new, old: null, before: null }));
        return events;
      }
      if (tenant === undefined) return [];
      // Exact only with the old row; without it, absent rather than a guess.
      const changed = change.old ? changedColumns(shape, change.old, change.new) : undefined;
      // `key` names the row as it was, so a client can find it even when the update moved its key.
      const key = keyOf(shape, before ?? change.new);
      const image: RowImage = { shape, txn, new: change.new, old: change.old, before };
      return [toEvent({ op: 'update', tenant, key, row, old, changed, unchanged }, id, image)];
    }
  }
}

/**
 * An update as a stream with a filter sees it when the row moved into its filter (an
 * insert of the row as it is now) or out of it (a delete of the row as it was), like a
 * Postgres row filter (DESIGN §4). Written from the image, in the same field order.
 */
export function updateSeenAs(event: ChangeEvent, op: 'insert' | 'delete'): string {
  const { shape, txn, before } = event.image;
  const next = event.image.new!;
  if (op === 'insert') {
    const { row } = decodeRow(shape, next, event.image.old);
    return changeJson({ op, tenant: event.tenant, key: keyOf(shape, next), row }, event.id, shape, txn);
  }
  const old = event.image.old ? decodeRow(shape, event.image.old, null).row : undefined;
  return changeJson({ op, tenant: event.tenant, key: keyOf(shape, before ?? next), old }, event.id, shape, txn);
}

/**
 * A column's value as Postgres text in the row after the change (an unchanged TOAST
 * value read from the old row), or before it; undefined when the change did not carry it.
 */
export function valueAfter(image: RowImage, index: number): string | null | undefined {
  const value = image.new?.[index];
  if (value === UNCHANGED_TOAST) {
    const old = image.old?.[index];
    return old === UNCHANGED_TOAST ? undefined : old;
  }
  return value;
}

export function valueBefore(image: RowImage, index: number): string | null | undefined {
  const value = image.old?.[index];
  return value === UNCHANGED_TOAST ? undefined : value;
}
