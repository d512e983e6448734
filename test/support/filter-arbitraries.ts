// fast-check arbitraries for the filter tests: rows of every supported type (edge values
// and NULLs weighted in), filters over them as trees (literals drawn from the rows, near
// them, or fresh; token references), and token claims.
import fc from 'fast-check';
import type { Claims, FilterNode, Operand } from '../../src/filters/index.js';
import { COLUMN_SPECS, type ColumnSpec } from './filter-columns.js';

export type InputRow = Readonly<Record<string, string | null>>;

const ORDERED_KINDS = new Set(['integer', 'numeric', 'float', 'bool', 'date', 'timestamp', 'timestamptz', 'time', 'uuid', 'bytea']);
const CLAIM_NAMES = ['c1', 'c2', 'missing', 'constructor', '__proto__'] as const;

export const rowArb = fc.record(
  Object.fromEntries(COLUMN_SPECS.map((spec) => [spec.name, fc.option(spec.value, { nil: null, freq: 6 })])) as Record<string, fc.Arbitrary<string | null>>,
);

/** A value for `spec`: one a row holds (as inserted, or spelled another way), one next to it, a fresh one, or a reference. */
function operandArb(spec: ColumnSpec, rows: readonly InputRow[]): fc.Arbitrary<Operand> {
  // Rows hold numerics of 131072 digits; as literals they would pass FILTER_LIMITS.maxCanonicalLength (tested apart).
  const held = rows.map((row) => row[spec.name]).filter((value): value is string => typeof value === 'string' && !/e-?\d{3,}$/i.test(value));
  const literal = (text: string): Operand => ({ kind: 'literal', text });
  const fresh = spec.value.filter((text) => !/e-?\d{3,}$/i.test(text)).map(literal);
  const reference = fc.oneof(
    fc.constant<Operand>({ kind: 'sub' }),
    fc.constantFrom(...CLAIM_NAMES).map((name): Operand => ({ kind: 'claim', name })),
  );
  if (held.length === 0) return fc.oneof({ weight: 2, arbitrary: fresh }, { weight: 1, arbitrary: reference });
  const respelled = fc.constantFrom(...held).chain((text) => (spec.respell ? fc.oneof(fc.constant(text), spec.respell(text)) : fc.constant(text)));
  const near = fc.constantFrom(...held).chain((text) => spec.near?.(text) ?? fc.constant(text));
  return fc.oneof(
    { weight: 5, arbitrary: respelled.map(literal) },
    { weight: 3, arbitrary: near.map(literal) },
    { weight: 2, arbitrary: fresh },
    { weight: 1, arbitrary: reference },
  );
}

function conditionArb(spec: ColumnSpec, rows: readonly InputRow[]): fc.Arbitrary<FilterNode> {
  const column = spec.name;
  const isNull = fc.constant<FilterNode>({ tag: 'is', column, value: 'null' });
  if (spec.kind === 'opaque') return isNull;
  const operand = operandArb(spec, rows);
  const operators = ORDERED_KINDS.has(spec.kind) ? (['eq', 'neq', 'lt', 'lte', 'gt', 'gte'] as const) : (['eq', 'neq'] as const);
  return fc.oneof(
    {
      weight: 5,
      arbitrary: fc
        .tuple(fc.constantFrom(...operators), operand)
        .map(([operator, value]): FilterNode => ({ tag: 'compare', column, operator, operand: value })),
    },
    { weight: 2, arbitrary: fc.array(operand, { minLength: 1, maxLength: 4 }).map((list): FilterNode => ({ tag: 'in', column, list })) },
    { weight: 1, arbitrary: fc.constantFrom('c2', 'c1', 'missing').map((name): FilterNode => ({ tag: 'in', column, list: { kind: 'claim', name } })) },
    {
      weight: 1,
      arbitrary: spec.kind === 'bool' ? fc.constantFrom('null', 'true', 'false', 'unknown').map((value): FilterNode => ({ tag: 'is', column, value })) : isNull,
    },
  );
}

function maybeNot(node: fc.Arbitrary<FilterNode>): fc.Arbitrary<FilterNode> {
  return fc.tuple(node, fc.boolean()).map(([inner, negate]) => (negate && inner.tag !== 'not' ? { tag: 'not', operand: inner } : inner));
}

export function nodeArb(rows: readonly InputRow[], depth: number): fc.Arbitrary<FilterNode> {
  const leaf = maybeNot(fc.constantFrom(...COLUMN_SPECS).chain((spec) => conditionArb(spec, rows)));
  if (depth === 0) return leaf;
  const group = fc
    .tuple(fc.constantFrom('and' as const, 'or' as const), fc.array(nodeArb(rows, depth - 1), { minLength: 1, maxLength: 4 }))
    .map(([tag, operands]): FilterNode => ({ tag, operands }));
  return fc.oneof({ weight: 3, arbitrary: leaf }, { weight: 1, arbitrary: maybeNot(group) });
}

/** Claims drawn from the rows' values (so references can match), or of other shapes. */
export function claimsArb(rows: readonly InputRow[]): fc.Arbitrary<Claims> {
  const held = rows.flatMap((row) => Object.values(row)).filter((value): value is string => value !== null);
  const scalar = fc.oneof(
    { weight: 4, arbitrary: held.length > 0 ? fc.constantFrom(...held) : fc.string() },
    { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.string({ maxLength: 4 })) },
    { weight: 1, arbitrary: fc.constantFrom(null, {}, [], 'NaN', '1e999999999999', '300000000-01-01') },
  );
  const claim = fc.oneof(
    { weight: 3, arbitrary: scalar },
    { weight: 2, arbitrary: fc.array(fc.oneof({ weight: 5, arbitrary: scalar }, { weight: 1, arbitrary: fc.constant({ a: 1 }) }), { maxLength: 5 }) },
  );
  return fc.record({ sub: scalar, c1: claim, c2: claim }, { requiredKeys: [] });
}

/** One step of a row history: `at` picks a row written before (modulo how many there are). */
export type Operation = { op: 'insert'; row: InputRow } | { op: 'update'; at: number; row: InputRow } | { op: 'delete'; at: number };

export const operationArb = fc.oneof(
  { weight: 3, arbitrary: rowArb.map((row): Operation => ({ op: 'insert', row })) },
  { weight: 4, arbitrary: fc.tuple(fc.nat(), rowArb).map(([at, row]): Operation => ({ op: 'update', at, row })) },
  { weight: 1, arbitrary: fc.nat().map((at): Operation => ({ op: 'delete', at })) },
);
