// Event IDs (DESIGN §2): `<commit LSN, 16 upper-case hex>-<position in transaction, 6 hex>`.
// Both parts are fixed-width, so string order is stream order on every instance.
import { WalcastError } from '../errors.js';
import { lsnFromBigInt, type Lsn } from '../replication/lsn.js';

export type EventId = `${string}-${string}` & { readonly __brand: 'EventId' };

const EVENT_ID = /^([0-9A-F]{16})-([0-9A-F]{6})$/;
export const MAX_POSITION = 0xff_ffff;

export function formatEventId(commitLsn: Lsn, position: number): EventId {
  if (!Number.isInteger(position) || position < 0 || position > MAX_POSITION) {
    throw new RangeError(`event position out of range: ${position}`);
  }
  const lsnHex = commitLsn.toString(16).toUpperCase().padStart(16, '0');
  const positionHex = position.toString(16).toUpperCase().padStart(6, '0');
  return `${lsnHex}-${positionHex}` as EventId;
}

export interface ParsedEventId {
  readonly commitLsn: Lsn;
  readonly position: number;
}

/** Parses a client-supplied ID; anything but the exact format is a 400. */
export function parseEventId(text: string): ParsedEventId {
  const match = EVENT_ID.exec(text);
  if (!match) {
    throw new WalcastError('INVALID_EVENT_ID', 'event ID must look like 00000000016B3748-000003 (16 upper-case hex digits, a dash, 6 hex digits)');
  }
  return { commitLsn: lsnFromBigInt(BigInt(`0x${match[1]}`)), position: Number.parseInt(match[2]!, 16) };
}

export function asEventId(text: string): EventId {
  parseEventId(text);
  return text as EventId;
}

export function compareEventIds(a: EventId, b: EventId): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
