// A relation as its change events need it: everything that is the same for each of its
// changes (names, decoders, key, tenant, hidden columns), computed once per relation and
// configuration. Pure.
import type { Relation } from '../replication/pgoutput.js';
import { tableName, type Exposure, type TableName } from './exposure.js';
import { tenantKindOf, type TenantKind } from './tenant-key.js';
import { decoderFor, type ColumnType, type ValueDecoder } from './values.js';

/** Everything about a relation that is the same for each of its changes, computed once. */
export interface TableShape {
  readonly relid: number;
  readonly table: TableName;
  readonly tableJson: string;
  readonly names: readonly string[];
  /** Column name → index in the relation's tuples (hidden columns included). */
  readonly indexOf: ReadonlyMap<string, number>;
  /** `"name":` per column, escaped once. */
  readonly jsonKeys: readonly string[];
  readonly decoders: readonly ValueDecoder[];
  readonly visible: readonly boolean[];
  readonly keyIndexes: readonly number[];
  /** Index of the tenant column; -1: every tenant may read the table; -2: the column is not published. */
  readonly tenantIndex: number;
  /** How the tenant column compares (events/tenant-key). */
  readonly tenantKind: TenantKind;
}

function tenantKindOfType(type: ColumnType): TenantKind {
  return type.kind === 'scalar' ? tenantKindOf(type.oid, type.name) : 'text';
}

/**
 * A column list on the publication can leave a tenant or key column out of what is
 * sent, and a tenant column can be gone (DROPPED_TENANT_COLUMN); then `tenantIndex` is
 * -2 and no event is routed (guessing would leak).
 */
export function shapeOf(relation: Relation, exposure: Exposure, typeOf: (oid: number) => ColumnType): TableShape {
  const names = relation.columns.map((column) => column.name);
  const hidden = new Set(exposure.hiddenColumns);
  const keyNames = exposure.primaryKey.length > 0 ? exposure.primaryKey : relation.columns.filter((column) => column.isIdentity).map((column) => column.name);
  // A hidden column never leaves the server, not even as part of a key.
  const keyIndexes = keyNames.map((name) => names.indexOf(name)).filter((index) => index >= 0 && !hidden.has(names[index]!));
  const tenantIndex = exposure.tenantColumn === null ? -1 : names.indexOf(exposure.tenantColumn);
  return {
    relid: relation.relationOid,
    // The relation's own name: a rename reaches events even before it is announced.
    table: tableName(relation.schema, relation.name),
    tableJson: JSON.stringify(tableName(relation.schema, relation.name)),
    names,
    indexOf: new Map(names.map((name, index) => [name, index])),
    jsonKeys: names.map((name) => `${JSON.stringify(name)}:`),
    decoders: relation.columns.map((column) => decoderFor(typeOf(column.typeOid))),
    visible: names.map((name) => !hidden.has(name)),
    keyIndexes: keyIndexes.length > 0 ? keyIndexes : names.flatMap((name, index) => (hidden.has(name) ? [] : [index])),
    tenantIndex: tenantIndex === -1 && exposure.tenantColumn !== null ? -2 : tenantIndex,
    tenantKind: tenantIndex < 0 ? 'text' : tenantKindOfType(typeOf(relation.columns[tenantIndex]!.typeOid)),
  };
}
