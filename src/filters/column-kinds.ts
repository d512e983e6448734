// Which comparisons a column's type allows, decided by whether JS can reproduce Postgres's
// `=` and `<` exactly on the type's output text (under events/values TEXT_FORMAT). A type
// not listed here is refused rather than compared approximately.
import type { ColumnType } from '../events/values.js';

/** A column as filters see it: from the catalog, never from a request. */
export interface FilterColumn {
  readonly name: string;
  /** The column's values once domains are unwrapped (sql/type-store). */
  readonly type: ColumnType;
  /**
   * What filter values are cast to, in canonicalization and in SQL: the base type with no
   * modifier, `format_type(base_oid, -1)` (`numeric`, `bpchar`, `character varying`, an
   * enum's name). Without the modifier a value is compared as written: `price=gt.1.005`
   * on a numeric(10,2) is not first rounded to 1.01. (`format_type(oid, NULL)` spells
   * bpchar `character`, which is char(1).)
   */
  readonly sqlType: string;
  /** The base type is an enum (`pg_type.typtype = 'e'`): equality of labels is equality. */
  readonly isEnum: boolean;
  /**
   * The column's collation is deterministic (`pg_collation.collisdeterministic`; true for
   * types without collation). Under a nondeterministic one `'a' = 'A'` may hold, so text
   * equality is not Postgres's `=` and only `is` is allowed.
   */
  readonly deterministic: boolean;
}

/**
 * How a type's output text compares:
 * - integer, numeric, float: numerically, from the digits (no BigInt, no rounding);
 * - date, timestamp, timestamptz: by era, year, then the rest of the text;
 * - bool (`f` < `t`), time, uuid, bytea: the text's own order is the value's order;
 * - label: equal when the text is (enums, text under a deterministic collation, timetz,
 *   inet, cidr, macaddr: each value has one output text);
 * - bpchar: equal when the text is, trailing blanks aside;
 * - opaque: not compared (json, jsonb, interval, money, arrays, extension types…).
 */
export type ValueKind =
  | 'integer'
  | 'numeric'
  | 'float'
  | 'bool'
  | 'date'
  | 'timestamp'
  | 'timestamptz'
  | 'time'
  | 'uuid'
  | 'bytea'
  | 'label'
  | 'bpchar'
  | 'opaque';

/** Built-in type OIDs (`pg_type.oid`, stable across Postgres versions). */
const KIND_BY_OID: ReadonlyMap<number, ValueKind> = new Map([
  [21, 'integer'], // int2
  [23, 'integer'], // int4
  [20, 'integer'], // int8
  [26, 'integer'], // oid
  [1700, 'numeric'],
  [700, 'float'], // float4: its shortest exact text reads back to one double per value, in order
  [701, 'float'], // float8
  [16, 'bool'],
  [1082, 'date'],
  [1114, 'timestamp'],
  [1184, 'timestamptz'],
  [1083, 'time'],
  [2950, 'uuid'], // uuid_cmp is memcmp; the text is fixed-width lower-case hex
  [17, 'bytea'], // byteacmp is memcmp then length; bytea_output=hex keeps that order
  [25, 'label'], // text
  [1043, 'label'], // varchar
  [19, 'label'], // name
  [18, 'label'], // "char"
  [1266, 'label'], // timetz: equal only when time and offset both are
  [869, 'label'], // inet
  [650, 'label'], // cidr
  [829, 'label'], // macaddr
  [1042, 'bpchar'],
]);

/** Types whose `=` depends on the column's collation. */
const COLLATABLE: ReadonlySet<number> = new Set([25, 1043, 19, 1042]);

export function kindOf(column: FilterColumn): ValueKind {
  if (column.type.kind === 'array') return 'opaque';
  if (column.isEnum) return 'label';
  const kind = KIND_BY_OID.get(column.type.oid) ?? 'opaque';
  return COLLATABLE.has(column.type.oid) && !column.deterministic ? 'opaque' : kind;
}

const ORDERED: ReadonlySet<ValueKind> = new Set<ValueKind>([
  'integer',
  'numeric',
  'float',
  'bool',
  'date',
  'timestamp',
  'timestamptz',
  'time',
  'uuid',
  'bytea',
]);

export function isOrdered(kind: ValueKind): boolean {
  return ORDERED.has(kind);
}
