// `where=` filters (DESIGN §4): PostgREST-style `col=op.value`, parsed and checked against
// the table's columns, then evaluated on event rows with Postgres's semantics for the
// column's type. Pure. Values are never put into SQL; columns come from the catalog.
//
//   where=done=eq.false   where=qty=gte.10   where=state=in.(open,"on hold")
//   where=due=is.null     where=title=not.eq.draft    (several where= are ANDed)
import { WalcastError } from '../errors.js';
import type { ColumnType } from '../events/values.js';

export type Operator = 'eq' | 'neq' | 'lt' | 'lte' | 'gt' | 'gte' | 'in' | 'is';

export interface Condition {
  readonly column: string;
  readonly negate: boolean;
  readonly operator: Operator;
  /** One value; several for `in`; `null`, `true` or `false` for `is`. */
  readonly values: readonly string[];
}

const OPERATORS = new Set<string>(['eq', 'neq', 'lt', 'lte', 'gt', 'gte', 'in', 'is']);
const MAX_CONDITIONS = 20;
const MAX_IN_VALUES = 100;

function invalid(message: string): WalcastError {
  return new WalcastError('INVALID_PARAMETER', `where: ${message}`);
}

/** `(a,"b,c",d)` → ['a', 'b,c', 'd']; double quotes protect commas, backslash escapes. */
function parseList(text: string): string[] {
  if (!text.startsWith('(') || !text.endsWith(')')) throw invalid('in. takes a list in parentheses: in.(a,b)');
  const body = text.slice(1, -1);
  const values: string[] = [];
  let current = '';
  let quoted = false;
  let wasQuoted = false;
  for (let i = 0; i < body.length; i++) {
    const char = body[i]!;
    if (quoted) {
      if (char === '\\' && i + 1 < body.length) current += body[++i];
      else if (char === '"') quoted = false;
      else current += char;
    } else if (char === '"' && current === '') {
      quoted = true;
      wasQuoted = true;
    } else if (char === ',') {
      values.push(current);
      current = '';
      wasQuoted = false;
    } else {
      current += char;
    }
  }
  if (quoted) throw invalid('unterminated quote in in.(…)');
  if (body !== '' || wasQuoted) values.push(current);
  if (values.length === 0 || values.length > MAX_IN_VALUES) throw invalid(`in.(…) takes 1 to ${MAX_IN_VALUES} values`);
  return values;
}

export function parseCondition(text: string): Condition {
  const equals = text.indexOf('=');
  if (equals <= 0) throw invalid(`${JSON.stringify(text.slice(0, 100))} is not column=operator.value`);
  const column = text.slice(0, equals);
  let rest = text.slice(equals + 1);
  const negate = rest.startsWith('not.');
  if (negate) rest = rest.slice(4);
  const dot = rest.indexOf('.');
  const operator = dot < 0 ? rest : rest.slice(0, dot);
  if (!OPERATORS.has(operator)) throw invalid(`unknown operator ${JSON.stringify(operator.slice(0, 20))} (eq, neq, lt, lte, gt, gte, in, is)`);
  if (dot < 0) throw invalid(`${operator} needs a value: ${operator}.value`);
  const value = rest.slice(dot + 1);
  if (operator === 'in') return { column, negate, operator, values: parseList(value) };
  if (operator === 'is' && !['null', 'true', 'false'].includes(value)) throw invalid('is. takes null, true or false');
  return { column, negate, operator: operator as Operator, values: [value] };
}

export function parseWhere(texts: readonly string[]): Condition[] {
  if (texts.length > MAX_CONDITIONS) throw invalid(`at most ${MAX_CONDITIONS} conditions`);
  return texts.map(parseCondition);
}

// ── Comparison with Postgres semantics, by the column's base type ─────────────────────

/** An exact decimal: mantissa × 10^exponent. */
interface Decimal {
  readonly mantissa: bigint;
  readonly exponent: number;
}

/** A column's values reduced to something JS compares the way Postgres does. */
type Comparable = Decimal | bigint | number | string | boolean;
type Kind = 'exact' | 'float' | 'bool' | 'text' | 'bpchar' | 'uuid' | 'date' | 'timestamp' | 'timestamptz' | 'time' | 'label' | 'opaque';

const KIND_BY_OID: Record<number, Kind> = {
  20: 'exact', 21: 'exact', 23: 'exact', 26: 'exact', 1700: 'exact',
  700: 'float', 701: 'float',
  16: 'bool',
  25: 'text', 1043: 'text', 19: 'text', 1042: 'bpchar',
  2950: 'uuid',
  1082: 'date', 1114: 'timestamp', 1184: 'timestamptz', 1083: 'time',
  // json, jsonb, bytea and arrays have no simple comparison here: only is.null.
  114: 'opaque', 3802: 'opaque', 17: 'opaque',
};

/** Types not listed compare as labels (exact text, equality only): enums, inet, interval… */
function kindOf(type: ColumnType): Kind {
  return type.kind === 'array' ? 'opaque' : (KIND_BY_OID[type.oid] ?? 'label');
}

const ORDERED = new Set<Kind>(['exact', 'float', 'bool', 'date', 'timestamp', 'timestamptz', 'time']);

/** `-12.5e3` → {-125, 2}; NaN and the infinities as sentinels. */
const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

function exactKey(text: string): Comparable | undefined {
  const trimmed = text.trim();
  if (/^nan$/i.test(trimmed)) return 'NaN';
  if (/^[+]?inf(inity)?$/i.test(trimmed)) return Infinity;
  if (/^-inf(inity)?$/i.test(trimmed)) return -Infinity;
  const match = DECIMAL.exec(trimmed);
  if (!match || (match[2] === '' && (match[3] ?? '') === '')) return undefined;
  const fraction = match[3] ?? '';
  const exponent = Number(match[4] ?? 0) - fraction.length;
  const mantissa = BigInt(`${match[2] || '0'}${fraction}`);
  return { mantissa: match[1] === '-' ? -mantissa : mantissa, exponent };
}

function isDecimal(value: Comparable): value is Decimal {
  return typeof value === 'object';
}

function compareDecimals(a: Decimal, b: Decimal): number {
  const low = Math.min(a.exponent, b.exponent);
  const left = a.mantissa * 10n ** BigInt(a.exponent - low);
  const right = b.mantissa * 10n ** BigInt(b.exponent - low);
  return left < right ? -1 : left > right ? 1 : 0;
}

function floatKey(text: string): Comparable | undefined {
  const trimmed = text.trim();
  if (/^nan$/i.test(trimmed)) return 'NaN';
  const value = /^[+-]?inf(inity)?$/i.test(trimmed) ? (trimmed.startsWith('-') ? -Infinity : Infinity) : Number(trimmed);
  return trimmed === '' || Number.isNaN(value) ? undefined : value;
}

const TRUE_WORDS = new Set(['t', 'true', 'y', 'yes', 'on', '1']);
const FALSE_WORDS = new Set(['f', 'false', 'n', 'no', 'off', '0']);

function boolKey(text: string): Comparable | undefined {
  const word = text.trim().toLowerCase();
  return TRUE_WORDS.has(word) ? true : FALSE_WORDS.has(word) ? false : undefined;
}

const DATE_TIME = /^(\d{4,})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,6})\d*)?)?)?\s*(Z|[+-]\d\d(?::?\d\d)?)?$/i;

/** Microseconds since the epoch; the offset is applied only when `zoned` (timestamp input ignores it, as Postgres does). */
function instantKey(text: string, zoned: boolean): Comparable | undefined {
  const trimmed = text.trim();
  if (/^infinity$/i.test(trimmed)) return Infinity;
  if (/^-infinity$/i.test(trimmed)) return -Infinity;
  const match = DATE_TIME.exec(trimmed);
  if (!match) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', fraction = '', zone] = match;
  const millis = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  let micros = BigInt(millis) * 1000n + BigInt(fraction.padEnd(6, '0'));
  if (zoned && zone && zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1n : 1n;
    const digits = zone.slice(1).replace(':', '');
    const offsetMinutes = BigInt(Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || 0));
    micros -= sign * offsetMinutes * 60_000_000n;
  }
  return micros;
}

const TIME_OF_DAY = /^(\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,6}))?)?$/;

function timeKey(text: string): Comparable | undefined {
  const match = TIME_OF_DAY.exec(text.trim());
  if (!match) return undefined;
  return ((Number(match[1]) * 60 + Number(match[2])) * 60 + Number(match[3] ?? 0)) * 1_000_000 + Number((match[4] ?? '').padEnd(6, '0'));
}

function keyFor(kind: Kind, text: string): Comparable | undefined {
  switch (kind) {
    case 'exact':
      return exactKey(text);
    case 'float':
      return floatKey(text);
    case 'bool':
      return boolKey(text);
    case 'date':
    case 'timestamp':
      return instantKey(text, false);
    case 'timestamptz':
      return instantKey(text, true);
    case 'time':
      return timeKey(text);
    case 'bpchar':
      // char(n) compares without its trailing blanks.
      return text.replace(/ +$/, '');
    case 'uuid':
      return text.trim().toLowerCase().replace(/[{}-]/g, '');
    default:
      return text;
  }
}

/** Postgres orders NaN above every number and equal to itself; infinities bound the rest. */
function compare(a: Comparable, b: Comparable): number {
  if (a === 'NaN' || b === 'NaN') return a === b ? 0 : a === 'NaN' ? 1 : -1;
  if (isDecimal(a) && isDecimal(b)) return compareDecimals(a, b);
  // A finite decimal or instant against an infinity.
  if (typeof a === 'number' && typeof b !== 'number') return a > 0 ? 1 : -1;
  if (typeof b === 'number' && typeof a !== 'number') return b > 0 ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

// ── Compiling a filter for one table ─────────────────────────────────────────────────

export interface FilterColumn {
  readonly name: string;
  readonly type: ColumnType;
}

/** A column's value in a row as Postgres text; undefined when the row does not carry it. */
export type ColumnValue = (column: string) => string | null | undefined;

/** true / false, or undefined when the row lacks a column the filter needs. */
export type RowPredicate = (row: ColumnValue) => boolean | undefined;

function compileCondition(condition: Condition, column: FilterColumn): RowPredicate {
  const kind = kindOf(column.type);
  const name = condition.column;
  const { operator, negate } = condition;
  if (operator === 'is') {
    const wanted = condition.values[0]!;
    if (wanted !== 'null' && kind !== 'bool') throw invalid(`is.${wanted} needs a boolean column; ${name} is not`);
    return (row) => {
      const value = row(name);
      if (value === undefined) return undefined;
      const result = wanted === 'null' ? value === null : value !== null && boolKey(value) === (wanted === 'true');
      return negate ? !result : result;
    };
  }
  if (kind === 'opaque') throw invalid(`${name} cannot be compared; only is.null works on its type`);
  if (!ORDERED.has(kind) && !['eq', 'neq', 'in'].includes(operator)) {
    throw invalid(`${operator} needs an ordered type (numbers, booleans, dates, times); ${name} supports eq, neq, in and is`);
  }
  const keys = condition.values.map((text) => {
    const key = keyFor(kind, text);
    if (key === undefined) throw invalid(`${JSON.stringify(text.slice(0, 100))} is not a valid value for ${name}`);
    return key;
  });
  const test = (key: Comparable): boolean => {
    switch (operator) {
      case 'eq':
        return compare(key, keys[0]!) === 0;
      case 'neq':
        return compare(key, keys[0]!) !== 0;
      case 'lt':
        return compare(key, keys[0]!) < 0;
      case 'lte':
        return compare(key, keys[0]!) <= 0;
      case 'gt':
        return compare(key, keys[0]!) > 0;
      case 'gte':
        return compare(key, keys[0]!) >= 0;
      default:
        return keys.some((candidate) => compare(key, candidate) === 0);
    }
  };
  return (row) => {
    const value = row(name);
    if (value === undefined) return undefined;
    // SQL: a comparison with NULL is never true, negated or not.
    if (value === null) return false;
    const key = keyFor(kind, value);
    if (key === undefined) return false;
    return negate ? !test(key) : test(key);
  };
}

/**
 * The predicate for one table. Unknown and hidden columns are a 400, worded the same so
 * a hidden column's existence does not leak.
 */
export function compileWhere(conditions: readonly Condition[], columns: readonly FilterColumn[], table: string): RowPredicate {
  const byName = new Map(columns.map((column) => [column.name, column]));
  const predicates = conditions.map((condition) => {
    const column = byName.get(condition.column);
    if (!column) throw invalid(`${table} has no column ${JSON.stringify(condition.column.slice(0, 100))} that can be filtered`);
    return compileCondition(condition, column);
  });
  return (row) => {
    let unknown = false;
    for (const predicate of predicates) {
      const result = predicate(row);
      if (result === false) return false;
      if (result === undefined) unknown = true;
    }
    return unknown ? undefined : true;
  };
}
