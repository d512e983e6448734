// Which stream events a snapshot already contains. A snapshot's cursor (DESIGN §4) says
// what it saw: `S<low>-<high>-<xmax>[-<xip>.<xip>…]` (hex). A transaction is in the
// snapshot unless it committed at or after `high`, or its xid was not yet visible
// (≥ xmax, or in progress). Several tables, each read at its own moment, share one
// stream: each table skips the events its own snapshot holds.
import type { ChangeEvent } from './types.js';

const CURSOR = /^S([0-9A-F]{16})-([0-9A-F]{16})-([0-9A-F]{1,16})(?:-([0-9A-F.]+))?$/;

/** Events carry 32-bit xids; Postgres compares them modulo 2^32. */
const low32 = (hex: string) => Number(BigInt(`0x${hex}`) & 0xffff_ffffn);
const xidPrecedes = (a: number, b: number) => ((a - b) | 0) < 0;

export type SeenBy = (event: Pick<ChangeEvent, 'id' | 'xid'>) => boolean;

/** Whether `event` is already part of what `cursor` read; an event ID as cursor: IDs up to it. */
export function seenBy(cursor: string): SeenBy {
  const match = CURSOR.exec(cursor);
  if (!match) return (event) => event.id <= cursor;
  const high = match[2]!;
  const xmax = low32(match[3]!);
  const inProgress = new Set((match[4] ?? '').split('.').filter(Boolean).map(low32));
  return (event) => {
    // The ID starts with the commit LSN in the same 16 hex digits: text order is LSN order.
    if (event.id.slice(0, 16) >= high) return false;
    const xid = Number(event.xid);
    return xidPrecedes(xid, xmax) && !inProgress.has(xid);
  };
}
