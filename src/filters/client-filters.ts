// A client's `where=` for one table of a stream or a snapshot: checked against the
// columns the client may see (a hidden column is as unknown as a missing one, so its
// existence does not leak), its values read by Postgres once, bound to the caller.
import type { ExposureCatalog } from '../events/exposure.js';
import type { FilterColumn } from './column-kinds.js';
import type { FilterEngine } from './filter-engine.js';
import type { BoundFilter, Claims } from './resolve-filter.js';

export interface ClientFilters {
  /** 400 for anything the client got wrong; `texts` are several `where=`, ANDed. */
  forTable(relid: number, table: string, texts: readonly string[], claims: Claims): Promise<BoundFilter>;
}

/** A table's columns are read again after this long, or when the exposure changes. */
const COLUMNS_TTL_MS = 5_000;

export function clientFilters(deps: {
  readonly engine: FilterEngine;
  readonly catalog: ExposureCatalog;
  /** Every column of a table, hidden ones included (filters/filter-columns). */
  readonly columnsOf: (relid: number) => Promise<readonly FilterColumn[]>;
  readonly now?: () => number;
}): ClientFilters {
  const now = deps.now ?? Date.now;
  // A reconnect storm of filtered streams reads a table's columns once, not once each.
  const visible = new Map<number, { readonly version: number; readonly at: number; readonly columns: Promise<readonly FilterColumn[]> }>();

  function visibleColumns(relid: number): Promise<readonly FilterColumn[]> {
    const cached = visible.get(relid);
    if (cached && cached.version === deps.catalog.version && now() - cached.at < COLUMNS_TTL_MS) return cached.columns;
    const hidden = new Set(deps.catalog.exposureOf(relid)?.hiddenColumns ?? []);
    const columns = deps.columnsOf(relid).then((all) => all.filter((column) => !hidden.has(column.name)));
    visible.set(relid, { version: deps.catalog.version, at: now(), columns });
    columns.catch(() => visible.delete(relid));
    return columns;
  }

  return {
    async forTable(relid, table, texts, claims) {
      const prepared = await deps.engine.prepare(texts, await visibleColumns(relid), { table });
      return deps.engine.bind(prepared, claims);
    },
  };
}
