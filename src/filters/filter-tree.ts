// What a filter is once read: a tree of conditions on columns, grouped with and/or and
// negated with not, whose values are literals or references to the caller's token.
// Shared by the parser, the type check, the evaluator and the SQL translation.

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
