// Snapshot cursors (DESIGN §4) and the rule that says which committed transactions a
// snapshot already saw. The server resumes a stream with it; the SDK hands a table over
// from its snapshot to the stream with it: one rule, written once.
//
// Cursor: `S<low LSN>-<high LSN>-<xmax>[-<xip>.<xip>…]`, all upper-case hex. A commit
// LSN alone cannot say what a snapshot saw: a transaction can write its commit record
// before another that the snapshot saw, yet become visible only after the snapshot was
// taken. So a transaction is new to the snapshot iff it commits at or after `high` (read
// after the snapshot was taken) or its xid was not visible: xid ≥ xmax, or in progress
// (xip). `low` (read before the snapshot) bounds where such transactions start to commit.

const HEX16 = '[0-9A-F]{16}';
const CURSOR = new RegExp(`^S(${HEX16})-(${HEX16})-([0-9A-F]{1,16})(?:-([0-9A-F]{1,16}(?:\\.[0-9A-F]{1,16})*))?$`);

/** Long enough for a few hundred in-progress transactions; a header or URL must carry it. */
export const MAX_CURSOR_LENGTH = 8_192;

/** A cursor's parts, as the hex text it carries. */
export interface CursorParts {
  readonly low: string;
  readonly high: string;
  readonly xmax: string;
  readonly xip: readonly string[];
}

export function parseCursor(text: string): CursorParts | undefined {
  const match = text.length <= MAX_CURSOR_LENGTH ? CURSOR.exec(text) : null;
  if (!match) return undefined;
  return { low: match[1]!, high: match[2]!, xmax: match[3]!, xip: match[4] ? match[4].split('.') : [] };
}

export function formatCursor(parts: CursorParts): string {
  return `S${parts.low}-${parts.high}-${parts.xmax}${parts.xip.length > 0 ? `-${parts.xip.join('.')}` : ''}`;
}

/** An event as the rule needs it: its ID (commit LSN first, fixed width) and its 32-bit xid. */
export interface CommittedEvent {
  readonly id: string;
  readonly xid: number;
}

/** The low 32 bits of a hex xid (64-bit with epoch in cursors; events carry 32). */
function low32(hex: string): number {
  const digits = hex.length > 8 ? hex.slice(-8) : hex;
  return Number.parseInt(digits, 16) >>> 0;
}

/** Wraparound-aware `a < b` on 32-bit xids, as Postgres compares them. */
function xidPrecedes(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

/** Whether the snapshot behind `parts` already holds an event's transaction. */
export function snapshotSaw(parts: CursorParts): (event: CommittedEvent) => boolean {
  const { high } = parts;
  const xmax = low32(parts.xmax);
  const inProgress = new Set(parts.xip.map(low32));
  // An ID starts with the commit LSN in the same 16 hex digits: text order is LSN order.
  return (event) => event.id.slice(0, 16) < high && xidPrecedes(event.xid, xmax) && !inProgress.has(event.xid);
}
