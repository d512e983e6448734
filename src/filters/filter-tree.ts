// What a filter is at each step: read (FilterNode: conditions on columns, grouped with
// and/or, negated with not, whose values are literals or references to the caller's
// token), checked against a table (CheckedNode) and resolved (ResolvedNode: every value
// canonical or NULL). Shared by the parser, the check, the evaluator and the SQL translation.
import type { FilterColumn, ValueKind } from './column-kinds.js';

export type ComparisonOperator = 'eq' | 'neq' | 'lt' | 'lte' | 'gt' | 'gte';

/** `$sub`, or `$claim.NAME`: a value taken from the verified token when a filter is bound to a principal. */
export type Reference = { readonly kind: 'sub' } | { readonly kind: 'claim'; readonly name: string };

/** A value as written: a literal (quoted or not), or a reference. */
export type Operand = { readonly kind: 'literal'; readonly text: string } | Reference;

export type IsValue = 'null' | 'true' | 'false' | 'unknown';

/**
 * One node of a filter. `in` takes a written list (whose items may be references) or one
 * reference to a claim that holds a list.
 */
export type FilterNode =
  | { readonly tag: 'compare'; readonly column: string; readonly operator: ComparisonOperator; readonly operand: Operand }
  | { readonly tag: 'in'; readonly column: string; readonly list: readonly Operand[] | Reference }
  | { readonly tag: 'is'; readonly column: string; readonly value: IsValue }
  | { readonly tag: 'not'; readonly operand: FilterNode }
  | { readonly tag: 'and'; readonly operands: readonly FilterNode[] }
  | { readonly tag: 'or'; readonly operands: readonly FilterNode[] };

export interface CheckedColumn {
  readonly column: FilterColumn;
  readonly kind: ValueKind;
}

/** FilterNode with each condition's column found and typed. */
export type CheckedNode =
  | { readonly tag: 'compare'; readonly target: CheckedColumn; readonly operator: ComparisonOperator; readonly operand: Operand }
  | { readonly tag: 'in'; readonly target: CheckedColumn; readonly list: readonly Operand[] | Reference }
  | { readonly tag: 'is'; readonly target: CheckedColumn; readonly value: IsValue }
  | { readonly tag: 'not'; readonly operand: CheckedNode }
  | { readonly tag: 'and'; readonly operands: readonly CheckedNode[] }
  | { readonly tag: 'or'; readonly operands: readonly CheckedNode[] };

/** A filter ready to evaluate: every value is the output text of its column's type, or null (SQL NULL). */
export type ResolvedNode =
  | { readonly tag: 'compare'; readonly target: CheckedColumn; readonly operator: ComparisonOperator; readonly value: string | null }
  | { readonly tag: 'in'; readonly target: CheckedColumn; readonly values: readonly (string | null)[] | null }
  | { readonly tag: 'is'; readonly target: CheckedColumn; readonly value: IsValue }
  | { readonly tag: 'not'; readonly operand: ResolvedNode }
  | { readonly tag: 'and'; readonly operands: readonly ResolvedNode[] }
  | { readonly tag: 'or'; readonly operands: readonly ResolvedNode[] };

/**
 * Every bound a filter must stay within; past one, the filter is refused with a 400 that
 * names it. They keep the parser, the canonicalization query and each evaluation small.
 */
export const FILTER_LIMITS = {
  /** Characters of filter text, all `where=` (or the policy) together. */
  maxLength: 8_192,
  /** Groups inside groups: `or=(a.eq.1,and(b.eq.2,…))` is depth 2. */
  maxDepth: 8,
  /** Conditions (`col.op.value`) in one filter. */
  maxTerms: 64,
  /** Items in one written `in.(…)` list. */
  maxInValues: 100,
  /** Literal values in one filter, list items included. */
  maxValues: 256,
  /** Characters of all literal values once Postgres has read them (`1e9999` reads as 10,000 digits). */
  maxCanonicalLength: 16_384,
  /** Items of a claim used as an `in` list, and characters of one claim value once read; past either the claim is NULL. */
  maxClaimValues: 1_000,
  maxClaimLength: 4_096,
} as const;

/** An `in` list that is one reference (a claim holding the list) rather than written items. */
export function isReference(list: readonly Operand[] | Reference): list is Reference {
  return !Array.isArray(list);
}
