// What a stream with a `where=` filter sends for an event (DESIGN §4): like a Postgres
// row filter, an update that moves a row into the filter arrives as an insert, one that
// moves it out as a delete. Each variant's bytes are built once per event and shared by
// every stream whose filter gives the same verdict.
import type { WalcastEvent } from '../events/event.js';
import { encodeEvent, formatSse } from './sse.js';
import type { RowPredicate } from './where.js';

export type Verdict = 'send' | 'skip' | 'as-insert' | 'as-delete';

type Row = Readonly<Record<string, unknown>>;

interface ParsedChange {
  readonly op: 'insert' | 'update' | 'delete';
  readonly row?: Row;
  readonly old?: Row;
  /** An update's row as it is now: an unchanged TOAST value is only in `old`. */
  current?: Row;
}

const parsed = new WeakMap<WalcastEvent, ParsedChange>();

/** Parsed once per event, shared by every filtered stream that judges it. */
function parsedChange(event: WalcastEvent): ParsedChange {
  let change = parsed.get(event);
  if (!change) {
    change = JSON.parse(event.json) as ParsedChange;
    if (change.op === 'update') change.current = change.old ? { ...change.old, ...change.row } : change.row!;
    parsed.set(event, change);
  }
  return change;
}

/**
 * A row the filter cannot judge (a filtered column was not sent, e.g. an unchanged TOAST
 * value) is not sent as an insert, and an update or delete of it is passed on: a client
 * removing or updating a row it never had loses nothing.
 */
export function judge(event: WalcastEvent, predicate: RowPredicate): Verdict {
  if (event.type !== 'change') return 'send';
  const change = parsedChange(event);
  switch (change.op) {
    case 'insert':
      return predicate(change.row!) === true ? 'send' : 'skip';
    case 'delete':
      return change.old && predicate(change.old) === false ? 'skip' : 'send';
    case 'update': {
      const inNow = predicate(change.current!);
      const inBefore = change.old ? predicate(change.old) : undefined;
      if (inNow === false) return inBefore === false ? 'skip' : 'as-delete';
      return inBefore === false ? 'as-insert' : 'send';
    }
  }
}

const variants = new WeakMap<WalcastEvent, { insert?: Buffer; delete?: Buffer }>();

function rewrite(event: WalcastEvent, op: 'insert' | 'delete'): string {
  const parts = event.update!;
  const head = event.json.slice(0, event.json.indexOf('"op":"'));
  const tail = event.json.slice(event.json.lastIndexOf(',"xid":"'));
  const tenant = JSON.stringify(event.tenant);
  return op === 'insert'
    ? `${head}"op":"insert","tenant":${tenant},"key":${parts.newKey ?? parts.key},"row":${parts.row}${tail}`
    : `${head}"op":"delete","tenant":${tenant},"key":${parts.key}${parts.old ? `,"old":${parts.old}` : ''}${tail}`;
}

export function frameFor(event: WalcastEvent, verdict: Exclude<Verdict, 'skip'>): Buffer {
  if (verdict === 'send') return encodeEvent(event);
  const op = verdict === 'as-insert' ? 'insert' : 'delete';
  let cached = variants.get(event);
  if (!cached) variants.set(event, (cached = {}));
  return (cached[op] ??= Buffer.from(formatSse({ id: event.id, event: event.type, data: rewrite(event, op) }), 'utf8'));
}
