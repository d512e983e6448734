// The SELECT behind a snapshot: the caller's tenant, the `where=` filter (as the filter
// engine renders it: the very rule streams evaluate), in key order. Pure. Identifiers
// come from the catalog (quoted here); values are parameters cast to the column's type.
import pg from 'pg';
import type { VisibleColumn } from '../sql/columns.js';
import type { Sql } from '../sql/statement.js';
import type { BoundFilter } from '../filters/index.js';
import type { TenantKind } from '../events/tenant-key.js';

export interface SnapshotQueryInput {
  readonly sqlName: string;
  readonly columns: readonly VisibleColumn[];
  readonly keyColumns: readonly string[];
  /** Null: every tenant may read the table. */
  readonly tenant: { readonly column: VisibleColumn; readonly kind: TenantKind; readonly value: string } | null;
  /** The client's `where=`, if any. */
  readonly filter: BoundFilter | undefined;
  /** Keyset paging: only rows whose key sorts after these values (the key's text forms). */
  readonly after?: readonly string[] | undefined;
}

export function snapshotQuery(input: SnapshotQueryInput): Sql {
  const values: unknown[] = [];
  const param = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  const byName = new Map(input.columns.map((column) => [column.name, column]));
  const where: string[] = [];
  if (input.tenant) {
    // As edit-sql: a varchar(n)/char(n) cast cuts the claim short ('acme-eu' → 'acme'); the tenant must survive it as it is.
    const value = `${param(input.tenant.value)}::${input.tenant.column.sqlType}`;
    where.push(`t.${pg.escapeIdentifier(input.tenant.column.name)} = ${value}`);
    if (input.tenant.kind === 'bpchar') where.push(`(${value})::text = rtrim(${param(input.tenant.value)}::text, ' ')`);
    else if (input.tenant.kind === 'text' || input.tenant.kind === 'citext') where.push(`(${value})::text = ${param(input.tenant.value)}::text`);
  }
  if (input.filter) where.push(input.filter.toSql(param, 't'));
  if (input.after) {
    const keys = input.keyColumns.map((name) => byName.get(name)!);
    const left = keys.map((column) => `t.${pg.escapeIdentifier(column.name)}`).join(', ');
    const right = keys.map((column, i) => `${param(input.after![i])}::${column.sqlType}`).join(', ');
    where.push(`(${left}) > (${right})`);
  }
  // Each column in its type's own text output (as pgoutput sends it: `t`, not `true`).
  const select = input.columns.map((column) => `t.${pg.escapeIdentifier(column.name)}`).join(', ');
  const order = input.keyColumns.map((name) => `t.${pg.escapeIdentifier(name)}`).join(', ');
  return {
    text: `select ${select} from ${input.sqlName} as t${where.length > 0 ? ` where ${where.join(' and ')}` : ''}${order ? ` order by ${order}` : ''}`,
    values,
  };
}
