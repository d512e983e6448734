// Where a client resumes: after an event ID, or after a snapshot (DESIGN §4). A snapshot
// cursor carries the snapshot's own visibility, because a commit LSN alone cannot say
// what a snapshot saw: a transaction can commit (write its commit record) before another
// that the snapshot saw, yet become visible only after the snapshot was taken.
//
// Cursor: `S<low LSN>-<high LSN>-<xmax>[-<xip>.<xip>…]`, all hex. A transaction is new to
// the snapshot iff it commits at or after `high` (read after the snapshot was taken) or
// its xid was not visible: xid ≥ xmax, or in progress (xip). `low` (read before the
// snapshot) bounds where such transactions can start to commit.
import { WalcastError } from '../errors.js';
import type { Lsn } from '../replication/lsn.js';
import { lsnFromBigInt } from '../replication/lsn.js';
import { parseEventId, type EventId } from './event-id.js';
import type { WalcastEvent } from './event.js';

export interface SnapshotCursor {
  readonly low: Lsn;
  readonly high: Lsn;
  /** xids as 64-bit (epoch and xid); events carry the low 32 bits. */
  readonly xmax: bigint;
  readonly xip: readonly bigint[];
}

export type ResumePosition =
  | { readonly kind: 'event'; readonly id: EventId }
  | { readonly kind: 'snapshot'; readonly cursor: SnapshotCursor };

const HEX16 = '[0-9A-F]{16}';
const CURSOR = new RegExp(`^S(${HEX16})-(${HEX16})-([0-9A-F]{1,16})(?:-([0-9A-F]{1,16}(?:\\.[0-9A-F]{1,16})*))?$`);
/** Long enough for a few hundred in-progress transactions; a header or URL must carry it. */
export const MAX_CURSOR_LENGTH = 8_192;

const hex = (value: bigint) => value.toString(16).toUpperCase();

export function formatCursor(cursor: SnapshotCursor): string {
  const low = hex(cursor.low).padStart(16, '0');
  const high = hex(cursor.high).padStart(16, '0');
  const xip = cursor.xip.length > 0 ? `-${cursor.xip.map(hex).join('.')}` : '';
  return `S${low}-${high}-${hex(cursor.xmax)}${xip}`;
}

/** `pg_current_snapshot()` text (`xmin:xmax:xip,…`) and the LSNs around it → a cursor. */
export function cursorFromSnapshot(snapshot: string, low: Lsn, high: Lsn): SnapshotCursor {
  const [, xmax, xip = ''] = snapshot.split(':');
  return { low, high, xmax: BigInt(xmax!), xip: xip === '' ? [] : xip.split(',').map((xid) => BigInt(xid)) };
}

/** A client's `Last-Event-ID` / `lastEventId`: an event ID or a snapshot cursor; else a 400. */
export function parseResumePosition(text: string): ResumePosition {
  if (!text.startsWith('S')) return { kind: 'event', id: (parseEventId(text), text as EventId) };
  const match = text.length <= MAX_CURSOR_LENGTH ? CURSOR.exec(text) : null;
  if (!match) throw new WalcastError('INVALID_EVENT_ID', 'not an event ID or a snapshot cursor (as returned by GET /v1/tables/:table/rows)');
  return {
    kind: 'snapshot',
    cursor: {
      low: lsnFromBigInt(BigInt(`0x${match[1]}`)),
      high: lsnFromBigInt(BigInt(`0x${match[2]}`)),
      xmax: BigInt(`0x${match[3]}`),
      xip: match[4] ? match[4].split('.').map((xid) => BigInt(`0x${xid}`)) : [],
    },
  };
}

/** Wraparound-aware `a < b` on 32-bit xids, as Postgres compares them. */
function xidPrecedes(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

/** Whether an event is one a client at this position has not seen. */
export function isNewTo(position: ResumePosition): (event: WalcastEvent) => boolean {
  if (position.kind === 'event') return (event) => event.id > position.id;
  const { high, xmax, xip } = position.cursor;
  const xmax32 = Number(xmax & 0xffff_ffffn);
  const inProgress = new Set(xip.map((xid) => Number(xid & 0xffff_ffffn)));
  return (event) => event.commitLsn >= high || !xidPrecedes(event.xid, xmax32) || inProgress.has(event.xid);
}
