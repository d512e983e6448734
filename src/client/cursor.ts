// Which stream events a table's snapshot already contains: the server's own rule
// (wire/cursor), or, when the position is an event ID, every event up to it. Several
// tables, each read at its own moment, share one stream: each skips what its snapshot holds.
import { parseCursor, snapshotSaw } from '../wire/cursor.js';
import type { ChangeEvent } from './types.js';

export type SeenBy = (event: Pick<ChangeEvent, 'id' | 'xid'>) => boolean;

/** Whether `event` is already part of what `cursor` read; an event ID as cursor: IDs up to it. */
export function seenBy(cursor: string): SeenBy {
  const parts = parseCursor(cursor);
  if (!parts) return (event) => event.id <= cursor;
  const saw = snapshotSaw(parts);
  return (event) => saw({ id: event.id, xid: Number(event.xid) });
}
