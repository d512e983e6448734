// Filters end to end for their users (streams, snapshots, edits, policies): text → a
// prepared filter (checked, literals canonical: the only step that may answer 400) → a
// bound filter per principal (references filled from the token) that evaluates rows
// synchronously and renders the same rule as SQL.
import type pg from 'pg';
import { createCanonicalizer, type CanonicalizerOptions } from './canonical-values.js';
import { checkFilter } from './check-filter.js';
import type { FilterColumn } from './column-kinds.js';
import { parseFilter, type FilterLabel } from './parse-filter.js';
import { bindFilter, prepareFilter, type BoundFilter, type Claims, type PreparedFilter } from './resolve-filter.js';

export interface PrepareOptions {
  /** The table as clients name it, for "t has no column …". */
  readonly table: string;
  /** What errors call the filter: `where` (default) or `policy`. */
  readonly label?: FilterLabel;
}

export interface FilterEngine {
  /**
   * Parses `texts` (several `where=`, ANDed; or one policy), checks them against
   * `columns` and reads their literal values through Postgres. Throws WalcastError
   * INVALID_PARAMETER for anything a client got wrong; rejects otherwise only when
   * Postgres cannot be reached.
   */
  prepare(texts: readonly string[], columns: readonly FilterColumn[], options: PrepareOptions): Promise<PreparedFilter>;
  /**
   * The prepared filter for one principal. A filter without `$sub`/`$claim.*` makes no
   * query (claims may be `{}`); a missing or unreadable claim is SQL NULL, never an error.
   */
  bind(prepared: PreparedFilter, claims: Claims): Promise<BoundFilter>;
  /** Queries sent to read values so far (cache misses). */
  readonly queries: number;
}

export function createFilterEngine(pool: Pick<pg.Pool, 'connect'>, options: CanonicalizerOptions = {}): FilterEngine {
  const canonicalizer = createCanonicalizer(pool, options);
  return {
    async prepare(texts, columns, { table, label = 'where' }) {
      const checked = checkFilter(parseFilter(texts, label), columns, table, label);
      return prepareFilter(checked, canonicalizer.canonicalize);
    },
    bind: (prepared, claims) => bindFilter(prepared, claims, canonicalizer.canonicalize),
    get queries() {
      return canonicalizer.queries;
    },
  };
}
