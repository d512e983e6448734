// Row changes → typed change events (DESIGN §3): key, row, old, changed, unchanged,
// tenant routing and hidden columns. Pure: one decoded change in, zero or more events out.
// Events are written as JSON text directly (values.ts): once per change, for every client.
import { tenantKey, type TenantKey } from './tenant-key.js';
import { UNCHANGED_TOAST, type RowChange, type Tuple } from '../replication/pgoutput.js';
import type { ChangeOp } from '../wire/payloads.js';
import { formatEventId, type EventId } from './event-id.js';
import type { ChangeEvent, RowImage, TransactionContext } from './event.js';
import type { TableShape } from './table-shape.js';
import type { JsonText } from './values.js';

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

/** Never undefined for a value Postgres printed; if it were, the event reaches no one. */
const UNROUTABLE = '\u0000' as TenantKey;

function toEvent(parts: ChangeParts, id: EventId, image: RowImage): ChangeEvent {
  return {
    id,
    type: 'change',
    op: parts.op,
    tenant: parts.tenant,
    tenantKey: parts.tenant === null ? null : (tenantKey(image.shape.tenantKind, parts.tenant) ?? UNROUTABLE),
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
        if (tenant !== undefined)
          events.push(toEvent({ op: 'insert', tenant, key: keyOf(shape, change.new), row }, id, { shape, txn, new: change.new, old: null, before: null }));
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
 * The tenants a change's events go to, without building them: what a transaction past
 * the limit needs to know (the same routing as changeEvents).
 */
export function changeTenants(change: RowChange, shape: TableShape): (string | null)[] {
  switch (change.tag) {
    case 'insert': {
      const tenant = tenantOf(shape, change.new);
      return tenant === undefined ? [] : [tenant];
    }
    case 'delete': {
      const before = change.old ?? change.key;
      const tenant = before === null ? undefined : tenantOf(shape, before);
      return tenant === undefined ? [] : [tenant];
    }
    case 'update': {
      const before = change.old ?? change.key;
      const tenant = tenantOf(shape, change.new);
      const oldTenant = before ? tenantOf(shape, before) : tenant;
      const tenants: (string | null)[] = [];
      if (before && oldTenant !== undefined && oldTenant !== tenant) tenants.push(oldTenant);
      if (tenant !== undefined) tenants.push(tenant);
      return tenants;
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
