// Row policies (DESIGN §10): each exposed table's policy, checked against all its columns
// (hidden ones too: the policy runs on the server), its literals read by Postgres once per
// exposure, bound per principal (`$sub`, `$claim.NAME`). A policy this server cannot use
// (a column gone, a grammar it does not know) selects nothing: fail closed, logged once.
import { isWalcastError } from '../errors.js';
import type { ExposureCatalog } from '../events/exposure.js';
import type { Logger } from '../log.js';
import type { FilterColumn } from './column-kinds.js';
import type { FilterEngine } from './filter-engine.js';
import { boundFilter, type BoundFilter, type Claims, type PreparedFilter } from './resolve-filter.js';

export interface Policies {
  /** The table's policy for one principal; undefined when the table has none. */
  forTable(relid: number, claims: Claims): Promise<BoundFilter | undefined>;
}

/** What a policy that cannot be used stands for: no row. */
export const NO_ROW: BoundFilter = boundFilter({ tag: 'or', operands: [] });

export function createPolicies(deps: {
  readonly engine: FilterEngine;
  readonly catalog: ExposureCatalog;
  /** Every column of a table, hidden ones included (filters/filter-columns). */
  readonly columnsOf: (relid: number) => Promise<readonly FilterColumn[]>;
  readonly log: Logger;
}): Policies {
  /** Prepared once per table and configuration: any exposure change may have renamed a column. */
  const prepared = new Map<number, { readonly version: number; readonly policy: string; readonly filter: Promise<PreparedFilter | undefined> }>();

  function preparedFor(relid: number, table: string, policy: string): Promise<PreparedFilter | undefined> {
    const cached = prepared.get(relid);
    if (cached && cached.version === deps.catalog.version && cached.policy === policy) return cached.filter;
    const filter = (async () => {
      try {
        return await deps.engine.prepare([policy], await deps.columnsOf(relid), { table, label: 'policy' });
      } catch (error) {
        // Postgres out of reach is no verdict on the policy: asked again next time.
        if (!isWalcastError(error) || error.code !== 'INVALID_PARAMETER') throw error;
        deps.log.error({ err: error, table }, 'the row policy of this table cannot be used here: it selects no row (walcast doctor)');
        return undefined;
      }
    })();
    prepared.set(relid, { version: deps.catalog.version, policy, filter });
    filter.catch(() => prepared.delete(relid));
    return filter;
  }

  return {
    async forTable(relid, claims) {
      const exposure = deps.catalog.exposureOf(relid);
      if (!exposure?.policy) return undefined;
      const filter = await preparedFor(relid, exposure.table, exposure.policy);
      return filter ? deps.engine.bind(filter, claims) : NO_ROW;
    },
  };
}
