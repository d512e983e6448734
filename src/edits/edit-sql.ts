// INSERT, guarded UPDATE and DELETE, and the current-row SELECT, for one exposed table.
// Pure. Identifiers come from the catalog; every value is a parameter cast to its
// column's type without its modifier, so Postgres checks it exactly as it would the app's
// own writes (an explicit cast to varchar(n) would cut it short instead). A row
// policy (DESIGN §10) works as Postgres RLS: a row it hides is not there (USING), and a
// written row it would hide is reported by the statement (`visible`, WITH CHECK).
import pg from 'pg';
import { WalcastError } from '../errors.js';
import type { TenantKind } from '../events/tenant-key.js';
import type { BoundFilter } from '../filters/index.js';
import type { Sql } from '../sql/statement.js';
import type { TableDescription, VisibleColumn } from '../sql/columns.js';

const JSON_OIDS = new Set([114, 3802]);
const BYTEA_OID = 17;

/** Deeper values are refused: serializing them (pg, JSON.stringify) recurses once per level. */
const MAX_DEPTH = 64;

/** Whether a parsed JSON value nests deeper than `limit` arrays and objects (without recursing). */
function deeperThan(value: unknown, limit: number): boolean {
  let level: unknown[] = [value];
  for (let depth = 0; level.length > 0; depth++) {
    if (depth > limit) return true;
    level = level.flatMap((item) => (typeof item === 'object' && item !== null ? Object.values(item) : []));
  }
  return false;
}

/** One JSON value from a request body → a parameter and the SQL that casts it. */
export function valueParam(column: VisibleColumn, value: unknown, param: (value: unknown) => string): string {
  const type = column.type;
  if (value === null) return `${param(null)}::${column.paramType}`;
  if (typeof value === 'object' && deeperThan(value, MAX_DEPTH)) throw notValid(column, `nested deeper than ${MAX_DEPTH} levels`);
  if (type.kind === 'array') {
    if (!Array.isArray(value)) throw notValid(column, 'expected an array');
    return `${param(value)}::${column.paramType}`;
  }
  if (JSON_OIDS.has(type.oid)) return `${param(JSON.stringify(value))}::${column.paramType}`;
  if (typeof value === 'object') throw notValid(column, 'expected a single value, not an object or array');
  if (type.oid === BYTEA_OID) {
    if (typeof value !== 'string') throw notValid(column, 'expected base64 text');
    return `decode(${param(value)}, 'base64')`;
  }
  return `${param(String(value))}::${column.paramType}`;
}

/** Text types an explicit cast cuts to their length where a write fails (unless only spaces go): char(n), varchar(n). */
const TEXT_CUT_BY_CAST = new Set([1042, 1043]);
/** Bit strings, cut the same way, spaces aside: bit(n), varbit(n). */
const BITS_CUT_BY_CAST = new Set([1560, 1562]);

/**
 * SQL that is true when `value` is one the column takes as written, and false or an error
 * otherwise: which value of a refused write was bad (edits/pg-errors), Postgres's 22001
 * naming no column. A value too long passes its cast (no modifier) but not the column's;
 * a numeric past its precision fails the cast with it.
 */
export function fitsColumn(column: VisibleColumn, value: unknown, param: (value: unknown) => string): string {
  const expression = valueParam(column, value, param);
  if (column.sqlType === column.paramType) return `(${expression}) is null or true`;
  const cast = `(${expression})::${column.sqlType}`;
  if (column.type.kind === 'scalar' && TEXT_CUT_BY_CAST.has(column.type.oid)) return `rtrim(${cast}::text) is not distinct from rtrim((${expression})::text)`;
  const oid = column.type.kind === 'array' ? column.type.elementOid : column.type.oid;
  if (TEXT_CUT_BY_CAST.has(oid) || BITS_CUT_BY_CAST.has(oid)) return `${cast} is not distinct from ${expression}`;
  return `${cast} is null or true`;
}

function notValid(column: VisibleColumn, message: string): WalcastError {
  return new WalcastError('VALIDATION_FAILED', `${column.name}: ${message}`, { details: { column: column.name } });
}

export interface Scope {
  readonly table: TableDescription;
  /** The tenant column and the caller's tenant, or null for a table every tenant shares. */
  readonly tenant: { readonly column: VisibleColumn; readonly kind: TenantKind; readonly value: string } | null;
  /** The table's row policy for the caller, if it has one. */
  readonly policy?: Pick<BoundFilter, 'toSql'> | undefined;
}

/** Columns set from the token on insert (set_on_insert), each with its value. */
export type SetOnInsert = ReadonlyMap<VisibleColumn, string>;

function builder() {
  const values: unknown[] = [];
  const param = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  return { values, param };
}

const ident = (name: string) => pg.escapeIdentifier(name);

/** The visible columns, then, with a policy, whether the row as written is one it shows. */
function returning(scope: Scope, param: (value: unknown) => string): string {
  const columns = columnsOf(scope.table);
  return scope.policy ? `${columns}, coalesce((${scope.policy.toSql(param, 't')}), false) as visible` : columns;
}

function columnOf(table: TableDescription, name: string): VisibleColumn {
  return table.columns.find((column) => column.name === name)!;
}

/**
 * The caller's tenant as a value of the tenant column, and the condition under which it is
 * that value. An explicit cast to varchar(n) or char(n) cuts the text short ('acme-eu' →
 * 'acme' for a varchar(4)), which would make one tenant another: the tenant must survive
 * the cast as it is, except where the column's type canonicalizes it the way
 * events/tenant-key does (integers, uuids, char(n)'s trailing spaces).
 */
function tenantValue(tenant: NonNullable<Scope['tenant']>, param: (value: unknown) => string): { value: string; exact: string | undefined } {
  const value = `${param(tenant.value)}::${tenant.column.sqlType}`;
  switch (tenant.kind) {
    case 'integer':
    case 'uuid':
      return { value, exact: undefined };
    case 'bpchar':
      return { value, exact: `(${value})::text = rtrim(${param(tenant.value)}::text, ' ')` };
    case 'text':
    case 'citext':
      return { value, exact: `(${value})::text = ${param(tenant.value)}::text` };
    default: {
      const unknown: never = tenant.kind;
      throw new TypeError(`unknown tenant kind ${String(unknown)}`);
    }
  }
}

function rowCondition(scope: Scope, key: readonly string[], param: (value: unknown) => string): string {
  const parts = scope.table.keyColumns.map((name, i) => `t.${ident(name)} = ${valueParam(columnOf(scope.table, name), key[i], param)}`);
  if (scope.tenant) {
    const tenant = tenantValue(scope.tenant, param);
    parts.push(`t.${ident(scope.tenant.column.name)} = ${tenant.value}`);
    if (tenant.exact) parts.push(tenant.exact);
  }
  // USING: a row the caller's policy hides is not there to edit.
  if (scope.policy) parts.push(`coalesce((${scope.policy.toSql(param, 't')}), false)`);
  return parts.join(' and ');
}

export function insertSql(scope: Scope, set: ReadonlyMap<string, unknown>, fromToken: SetOnInsert = new Map()): Sql {
  const { values, param } = builder();
  const names: string[] = [];
  const exprs: string[] = [];
  for (const [name, value] of set) {
    names.push(ident(name));
    exprs.push(valueParam(columnOf(scope.table, name), value, param));
  }
  for (const [column, value] of fromToken) {
    names.push(ident(column.name));
    exprs.push(valueParam(column, value, param));
  }
  let condition: string | undefined;
  if (scope.tenant) {
    const tenant = tenantValue(scope.tenant, param);
    names.push(ident(scope.tenant.column.name));
    exprs.push(tenant.value);
    condition = tenant.exact;
  }
  // With a condition, no row is inserted (and none returned) when the tenant would not be stored as it is.
  const rows = names.length === 0 ? 'default values' : condition ? `select ${exprs.join(', ')} where ${condition}` : `values (${exprs.join(', ')})`;
  const columns = names.length === 0 ? '' : `(${names.join(', ')}) `;
  return { text: `insert into ${scope.table.sqlName} as t ${columns}${rows} returning ${returning(scope, param)}`, values };
}

export function updateSql(
  scope: Scope,
  key: readonly string[],
  version: { readonly column: VisibleColumn; readonly value: string },
  set: ReadonlyMap<string, unknown>,
): Sql {
  const { values, param } = builder();
  const assignments = [...set].map(([name, value]) => `${ident(name)} = ${valueParam(columnOf(scope.table, name), value, param)}`);
  // An empty `set` still moves the version (the trigger bumps it): a touch.
  if (assignments.length === 0) assignments.push(`${ident(version.column.name)} = t.${ident(version.column.name)}`);
  const where = `${rowCondition(scope, key, param)} and t.${ident(version.column.name)} = ${param(version.value)}::${version.column.sqlType}`;
  return { text: `update ${scope.table.sqlName} as t set ${assignments.join(', ')} where ${where} returning ${returning(scope, param)}`, values };
}

export function deleteSql(scope: Scope, key: readonly string[], version: { readonly column: VisibleColumn; readonly value: string }): Sql {
  const { values, param } = builder();
  const where = `${rowCondition(scope, key, param)} and t.${ident(version.column.name)} = ${param(version.value)}::${version.column.sqlType}`;
  return { text: `delete from ${scope.table.sqlName} as t where ${where} returning ${columnsOf(scope.table)}`, values };
}

export function currentRowSql(scope: Scope, key: readonly string[]): Sql {
  const { values, param } = builder();
  return { text: `select ${columnsOf(scope.table)} from ${scope.table.sqlName} as t where ${rowCondition(scope, key, param)}`, values };
}

function columnsOf(table: TableDescription): string {
  return table.columns.map((column) => `t.${ident(column.name)}`).join(', ');
}
