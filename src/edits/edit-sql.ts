// INSERT, guarded UPDATE and DELETE, and the current-row SELECT, for one exposed table.
// Pure. Identifiers come from the catalog; every value is a parameter cast to its
// column's type, so Postgres checks it exactly as it would the app's own writes.
import pg from 'pg';
import { WalcastError } from '../errors.js';
import type { Sql } from '../sql/statement.js';
import type { TableDescription, VisibleColumn } from '../sql/columns.js';

const JSON_OIDS = new Set([114, 3802]);
const BYTEA_OID = 17;

/** One JSON value from a request body → a parameter and the SQL that casts it. */
export function valueParam(column: VisibleColumn, value: unknown, param: (value: unknown) => string): string {
  const type = column.type;
  if (value === null) return `${param(null)}::${column.sqlType}`;
  if (type.kind === 'array') {
    if (!Array.isArray(value)) throw notValid(column, 'expected an array');
    return `${param(value)}::${column.sqlType}`;
  }
  if (JSON_OIDS.has(type.oid)) return `${param(JSON.stringify(value))}::${column.sqlType}`;
  if (typeof value === 'object') throw notValid(column, 'expected a single value, not an object or array');
  if (type.oid === BYTEA_OID) {
    if (typeof value !== 'string') throw notValid(column, 'expected base64 text');
    return `decode(${param(value)}, 'base64')`;
  }
  return `${param(String(value))}::${column.sqlType}`;
}

function notValid(column: VisibleColumn, message: string): WalcastError {
  return new WalcastError('VALIDATION_FAILED', `${column.name}: ${message}`, { details: { column: column.name } });
}

export interface Scope {
  readonly table: TableDescription;
  /** The tenant column and the caller's tenant, or null for a table every tenant shares. */
  readonly tenant: { readonly column: VisibleColumn; readonly value: string } | null;
}

function builder() {
  const values: unknown[] = [];
  const param = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  return { values, param };
}

const ident = (name: string) => pg.escapeIdentifier(name);
const returning = (table: TableDescription) => table.columns.map((column) => `t.${ident(column.name)}`).join(', ');

function columnOf(table: TableDescription, name: string): VisibleColumn {
  return table.columns.find((column) => column.name === name)!;
}

function rowCondition(scope: Scope, key: readonly string[], param: (value: unknown) => string): string {
  const parts = scope.table.keyColumns.map((name, i) => `t.${ident(name)} = ${valueParam(columnOf(scope.table, name), key[i], param)}`);
  if (scope.tenant) parts.push(`t.${ident(scope.tenant.column.name)} = ${param(scope.tenant.value)}::${scope.tenant.column.sqlType}`);
  return parts.join(' and ');
}

export function insertSql(scope: Scope, set: ReadonlyMap<string, unknown>): Sql {
  const { values, param } = builder();
  const names: string[] = [];
  const exprs: string[] = [];
  for (const [name, value] of set) {
    names.push(ident(name));
    exprs.push(valueParam(columnOf(scope.table, name), value, param));
  }
  if (scope.tenant) {
    names.push(ident(scope.tenant.column.name));
    exprs.push(`${param(scope.tenant.value)}::${scope.tenant.column.sqlType}`);
  }
  const columns = names.length > 0 ? `(${names.join(', ')}) values (${exprs.join(', ')})` : 'default values';
  return { text: `insert into ${scope.table.sqlName} as t ${columns} returning ${returning(scope.table)}`, values };
}

export function updateSql(scope: Scope, key: readonly string[], version: { readonly column: VisibleColumn; readonly value: string }, set: ReadonlyMap<string, unknown>): Sql {
  const { values, param } = builder();
  const assignments = [...set].map(([name, value]) => `${ident(name)} = ${valueParam(columnOf(scope.table, name), value, param)}`);
  // An empty `set` still moves the version (the trigger bumps it): a touch.
  if (assignments.length === 0) assignments.push(`${ident(version.column.name)} = t.${ident(version.column.name)}`);
  const where = `${rowCondition(scope, key, param)} and t.${ident(version.column.name)} = ${param(version.value)}::${version.column.sqlType}`;
  return { text: `update ${scope.table.sqlName} as t set ${assignments.join(', ')} where ${where} returning ${returning(scope.table)}`, values };
}

export function deleteSql(scope: Scope, key: readonly string[], version: { readonly column: VisibleColumn; readonly value: string }): Sql {
  const { values, param } = builder();
  const where = `${rowCondition(scope, key, param)} and t.${ident(version.column.name)} = ${param(version.value)}::${version.column.sqlType}`;
  return { text: `delete from ${scope.table.sqlName} as t where ${where} returning ${returning(scope.table)}`, values };
}

export function currentRowSql(scope: Scope, key: readonly string[]): Sql {
  const { values, param } = builder();
  return { text: `select ${returning(scope.table)} from ${scope.table.sqlName} as t where ${rowCondition(scope, key, param)}`, values };
}
