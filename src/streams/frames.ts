// What a stream with a `where=` filter sends for an event (DESIGN §4): like a Postgres
// row filter, an update that moves a row into the filter arrives as an insert, one that
// moves it out as a delete. Filters judge the event's row values (events carry them);
// each variant's bytes are built once per event and shared by every stream whose filter
// gives the same verdict.
import { updateSeenAs, valueAfter, valueBefore } from '../events/change-event.js';
import type { ChangeEvent, RowImage, WalcastEvent } from '../events/event.js';
import type { RowPredicate, RowText } from '../filters/index.js';
import { sseBytes } from './sse.js';

export type Verdict = 'send' | 'skip' | 'as-insert' | 'as-delete';

interface RowViews {
  readonly after: RowText;
  readonly before: RowText | undefined;
}

/** Built once per event, shared by every filtered stream that judges it. */
const views = new WeakMap<ChangeEvent, RowViews>();

/** Every column (hidden ones too: a policy may use them) as Postgres text; undefined when not sent. */
function rowText(image: RowImage, side: typeof valueAfter): RowText {
  // No prototype: a column may be called `__proto__` or `constructor`.
  const row = Object.create(null) as Record<string, string | null | undefined>;
  const { names } = image.shape;
  for (let index = 0; index < names.length; index++) row[names[index]!] = side(image, index);
  return row;
}

function viewsOf(event: ChangeEvent): RowViews {
  let found = views.get(event);
  if (!found) {
    const { image } = event;
    found = { after: rowText(image, valueAfter), before: image.old ? rowText(image, valueBefore) : undefined };
    views.set(event, found);
  }
  return found;
}

/**
 * A row the filter cannot judge (a filtered column was not sent, e.g. an unchanged TOAST
 * value) is not sent as an insert, and an update or delete of it is passed on: a client
 * removing or updating a row it never had loses nothing.
 */
export function judge(event: WalcastEvent, predicate: RowPredicate): Verdict {
  if (event.type !== 'change') return 'send';
  const { after, before } = viewsOf(event);
  switch (event.op) {
    case 'insert':
      return predicate(after) === true ? 'send' : 'skip';
    case 'delete':
      return before && predicate(before) === false ? 'skip' : 'send';
    case 'update': {
      const inNow = predicate(after);
      const inBefore = before ? predicate(before) : undefined;
      if (inNow === false) return inBefore === false ? 'skip' : 'as-delete';
      return inBefore === false ? 'as-insert' : 'send';
    }
  }
}

const variants = new WeakMap<ChangeEvent, { insert?: Buffer; delete?: Buffer }>();

/** The bytes a stream gets for an event it takes: `shared` (everyone's), or an update seen as an insert or delete. */
export function frameFor(event: WalcastEvent, verdict: Exclude<Verdict, 'skip'>, shared: Buffer): Buffer {
  if (verdict === 'send' || event.type !== 'change') return shared;
  const op = verdict === 'as-insert' ? 'insert' : 'delete';
  let cached = variants.get(event);
  if (!cached) variants.set(event, (cached = {}));
  return (cached[op] ??= sseBytes({ id: event.id, event: event.type, data: updateSeenAs(event, op) }));
}
