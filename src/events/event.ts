// The events walcast delivers: what the retention log keeps and streams write.
import type { Lsn } from '../replication/lsn.js';
import type { EventId } from './event-id.js';
import type { TableName } from './exposure.js';

export type EventType = 'change' | 'truncate' | 'invalidate';

export interface WalcastEvent {
  readonly id: EventId;
  readonly type: EventType;
  /** The tenant that may see it; null for tables without a tenant column (every tenant). */
  readonly tenant: string | null;
  readonly relid: number;
  readonly table: TableName;
  readonly commitLsn: Lsn;
  /** The transaction's xid (32 bits, as pgoutput sends it): snapshot cursors decide by it. */
  readonly xid: number;
  /** The SSE `data:` payload, serialized once for every subscriber. */
  readonly json: string;
  /**
   * For an update, its parts as JSON text: a `where=` filter turns the update into an
   * insert (the row moved into the filter) or a delete (out of it) without re-reading
   * a value, so not a digit is lost.
   */
  readonly update?: UpdateParts;
}

export interface UpdateParts {
  readonly key: string;
  /** The key of the row as it is now, when the update changed it. */
  readonly newKey: string | undefined;
  readonly row: string;
  readonly old: string | undefined;
}
