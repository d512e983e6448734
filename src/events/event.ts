// The events walcast delivers: what the retention log keeps and streams write.
import type { Lsn } from '../replication/lsn.js';
import type { Tuple } from '../replication/pgoutput.js';
import type { ChangeOp } from '../wire/payloads.js';
import type { TableShape } from './table-shape.js';
import type { EventId } from './event-id.js';
import type { TableName } from './exposure.js';
import type { TenantKey } from './tenant-key.js';

interface EventBase {
  readonly id: EventId;
  /** The tenant that may see it; null: every tenant (a table without a tenant column, a truncate). */
  readonly tenant: string | null;
  /** What streams are routed by: the tenant as its column's type compares it (null with `tenant`). */
  readonly tenantKey: TenantKey | null;
  readonly relid: number;
  readonly table: TableName;
  readonly commitLsn: Lsn;
  /** The transaction's xid (32 bits, as pgoutput sends it): snapshot cursors decide by it. */
  readonly xid: number;
  /** The SSE `data:` payload, serialized once for every subscriber. */
  readonly json: string;
}

/** A row change (`event: change`). */
export interface ChangeEvent extends EventBase {
  readonly type: 'change';
  readonly op: ChangeOp;
  readonly image: RowImage;
}

/** `truncate` and `invalidate`: the client reads the table again. */
export interface TableEvent extends EventBase {
  readonly type: 'truncate' | 'invalidate';
  /** Why an invalidate was sent; a changed row policy also makes each stream apply the new one. */
  readonly reason?: InvalidateReason;
}

export type InvalidateReason = 'transaction_too_large' | 'undecodable_change' | 'policy_changed';

export type WalcastEvent = ChangeEvent | TableEvent;
export type EventType = WalcastEvent['type'];

/** What every event of one transaction shares. */
export interface TransactionContext {
  readonly commitLsn: Lsn;
  readonly lsnText: string;
  readonly xid: number;
  readonly committedAt: string;
  /** `,"xid":…,"lsn":…,"committedAt":…}`: the same closing fields on each of its events. */
  readonly jsonTail: string;
}

/**
 * A change's row values as Postgres text, hidden columns included, as decoded: what
 * filters and policies judge an event by, and what a filtered stream's variant of it
 * (an update seen as an insert or a delete) is written from, without reading back the
 * JSON. Tuples are shared with the decoder, not copied.
 */
export interface RowImage {
  readonly shape: TableShape;
  readonly txn: TransactionContext;
  /** The row after the change: inserts and updates. */
  readonly new: Tuple | null;
  /** The whole old row, where the replica identity gives it (FULL). */
  readonly old: Tuple | null;
  /** What names the row as it was: the old row, the old identity columns, or the new row. */
  readonly before: Tuple | null;
}
