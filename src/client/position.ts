// Where a stream resumes (DESIGN §2, §4): after an event ID, or after a snapshot cursor
// (`S<low>-<high>-<xmax>[-<xip>…]`). Several tabs and tables each remember their own;
// one stream must resume from a point that misses nothing any of them still needs.

import { parseCursor } from '../wire/cursor.js';

/** An event ID (`<16 hex>-<6 hex>`) or a snapshot cursor (`S…`). */
export type Position = string;

const isCursor = (position: Position) => position.startsWith('S');

/**
 * The latest event ID at or before which every event a cursor has not seen comes:
 * a transaction new to a snapshot commits at or after its `low` LSN, so every event
 * after `<low - 1>-FFFFFF` includes them all.
 */
export function floorOf(position: Position): string {
  const parts = parseCursor(position);
  if (!parts) return position;
  const low = BigInt(`0x${parts.low}`);
  if (low === 0n) return '0000000000000000-000000';
  return `${(low - 1n).toString(16).toUpperCase().padStart(16, '0')}-FFFFFF`;
}

/**
 * One position from which a stream brings every event that any of `positions` lacks.
 * The same cursor everywhere stays that cursor (exact); anything mixed falls back to the
 * earliest event ID, and those ahead of it skip what they already have.
 */
export function earliestPosition(positions: Iterable<Position>): Position | undefined {
  const all = [...new Set(positions)];
  if (all.length <= 1) return all[0];
  return all.map(floorOf).reduce((earliest, id) => (id < earliest ? id : earliest));
}

/** Whether a stream resuming from `from` may lack something a reader at `seen` needs. */
export function leavesGap(seen: Position, from: Position): boolean {
  if (seen === from) return false;
  // A cursor leaves out what its snapshot saw, which another position cannot tell.
  return isCursor(from) || floorOf(seen) < from;
}

/** Whether `id` (an event's) is already covered by having seen event `seen`. */
export function alreadySeen(id: string, seen: Position | undefined): boolean {
  return seen !== undefined && !isCursor(seen) && id <= seen;
}
