// Rows of walcast.exposed_tables, as the stream brings them → configuration changes.
// The pipeline recognises that relation by its OID, learned from the catalog at start,
// never by a name a table in another schema could copy; and only walcast's owner (and its
// DDL event triggers) can write it. Each row carries its exposure as JSON in `exposure`
// (sql/002); the table's FULL replica identity gives a delete its old row. Pure.
import { UNCHANGED_TOAST, type RowChange, type TupleValue } from '../replication/pgoutput.js';
import { Exposure, type ConfigChange } from './exposure.js';

const EXPOSURE_COLUMN = 'exposure';

export type ConfigRow = { readonly ok: true; readonly changes: readonly ConfigChange[] } | { readonly ok: false; readonly problem: string };

function exposureIn(value: TupleValue | undefined): Exposure | string {
  if (typeof value !== 'string') return 'the row carries no exposure';
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    return 'the exposure is not JSON';
  }
  const parsed = Exposure.safeParse(json);
  return parsed.success ? parsed.data : `the exposure does not parse: ${parsed.error.message}`;
}

export function configChangesOf(change: RowChange): ConfigRow {
  const index = change.relation.columns.findIndex((column) => column.name === EXPOSURE_COLUMN);
  if (index < 0) return { ok: false, problem: `walcast.exposed_tables is published without its ${EXPOSURE_COLUMN} column` };
  const oldValue = change.tag === 'insert' ? undefined : change.old?.[index];
  const before = oldValue === undefined ? undefined : exposureIn(oldValue);
  if (change.tag === 'delete') {
    return typeof before === 'object'
      ? { ok: true, changes: [{ op: 'conceal', relid: before.relid }] }
      : { ok: false, problem: before ?? 'a delete without its old row' };
  }
  const newValue = change.new[index];
  // An unchanged TOASTed value is the old one (the identity is FULL, so the old row has it).
  const after = exposureIn(newValue === UNCHANGED_TOAST ? oldValue : newValue);
  if (typeof after === 'string') return { ok: false, problem: after };
  const moved = typeof before === 'object' && before.relid !== after.relid;
  return {
    ok: true,
    changes: moved
      ? [
          { op: 'conceal', relid: before.relid },
          { op: 'expose', exposure: after },
        ]
      : [{ op: 'expose', exposure: after }],
  };
}

/**
 * The exposure in the row's old image: null for an insert (none before it), undefined
 * where the WAL carries none. What a change changed is read from the WAL, not from the
 * catalog, so every instance makes the same events of it, also one that rebuilds its
 * window from older WAL after starting with today's exposures.
 */
export function exposureBefore(change: RowChange): Exposure | null | undefined {
  if (change.tag === 'insert') return null;
  const index = change.relation.columns.findIndex((column) => column.name === EXPOSURE_COLUMN);
  const before = index < 0 ? undefined : exposureIn(change.old?.[index]);
  return typeof before === 'object' ? before : undefined;
}
