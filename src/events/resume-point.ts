// Where a client resumes: after an event ID, or after a snapshot (DESIGN §4). The cursor
// format and the rule of what a snapshot saw are the wire's (wire/cursor), shared with
// the SDK; here they meet the server's LSNs and events.
import { WalcastError } from '../errors.js';
import { lsnFromBigInt, type Lsn } from '../replication/lsn.js';
import { formatCursor as formatCursorParts, parseCursor, snapshotSaw, type CursorParts } from '../wire/cursor.js';
import { parseEventId, type EventId } from './event-id.js';
import type { WalcastEvent } from './event.js';

export { MAX_CURSOR_LENGTH } from '../wire/cursor.js';

export interface SnapshotCursor {
  /** Read before the snapshot was taken: no transaction it missed commits earlier. */
  readonly low: Lsn;
  readonly high: Lsn;
  /** xids as 64-bit (epoch and xid); events carry the low 32 bits. */
  readonly xmax: bigint;
  readonly xip: readonly bigint[];
}

export type ResumePosition = { readonly kind: 'event'; readonly id: EventId } | { readonly kind: 'snapshot'; readonly cursor: SnapshotCursor };

const hex = (value: bigint) => value.toString(16).toUpperCase();

function partsOf(cursor: SnapshotCursor): CursorParts {
  return { low: hex(cursor.low).padStart(16, '0'), high: hex(cursor.high).padStart(16, '0'), xmax: hex(cursor.xmax), xip: cursor.xip.map(hex) };
}

export function formatCursor(cursor: SnapshotCursor): string {
  return formatCursorParts(partsOf(cursor));
}

/** `pg_current_snapshot()` text (`xmin:xmax:xip,…`) and the LSNs around it → a cursor. */
export function cursorFromSnapshot(snapshot: string, low: Lsn, high: Lsn): SnapshotCursor {
  const [, xmax, xip = ''] = snapshot.split(':');
  return { low, high, xmax: BigInt(xmax!), xip: xip === '' ? [] : xip.split(',').map((xid) => BigInt(xid)) };
}

/** A client's `Last-Event-ID` / `lastEventId`: an event ID or a snapshot cursor; else a 400. */
export function parseResumePosition(text: string): ResumePosition {
  if (!text.startsWith('S')) return { kind: 'event', id: (parseEventId(text), text as EventId) };
  const parts = parseCursor(text);
  if (!parts) throw new WalcastError('INVALID_EVENT_ID', 'not an event ID or a snapshot cursor (as returned by GET /v1/tables/:table/rows)');
  return {
    kind: 'snapshot',
    cursor: {
      low: lsnFromBigInt(BigInt(`0x${parts.low}`)),
      high: lsnFromBigInt(BigInt(`0x${parts.high}`)),
      xmax: BigInt(`0x${parts.xmax}`),
      xip: parts.xip.map((xid) => BigInt(`0x${xid}`)),
    },
  };
}

/** Whether an event is one a client at this position has not seen. */
export function isNewTo(position: ResumePosition): (event: WalcastEvent) => boolean {
  if (position.kind === 'event') return (event) => event.id > position.id;
  const saw = snapshotSaw(partsOf(position.cursor));
  return (event) => !saw(event);
}
