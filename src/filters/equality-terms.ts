// The equalities a filter implies for every row it matches: its top-level conjuncts of the
// form `col = v`, `col in (…)` or `col is true|false`. Streams can index subscribers by
// these (one lookup per event instead of one predicate per subscriber). Pure.
import { equalityKeyFor } from './compare-text.js';
import type { ResolvedNode } from './filter-tree.js';

/**
 * Every row the filter matches has `keyOf(row[column])` in `keys` (an empty set: the
 * filter matches nothing). A row without the column (not sent) is not covered: judge it
 * with the predicate.
 */
export interface FilterEquality {
  readonly column: string;
  readonly keys: ReadonlySet<string>;
  /** A row value's output text → the key it is equal under (numeric scale, bpchar padding…). */
  readonly keyOf: (text: string) => string;
}

export function equalityTerms(root: ResolvedNode): FilterEquality[] {
  const terms: FilterEquality[] = [];
  const visit = (node: ResolvedNode): void => {
    switch (node.tag) {
      case 'and':
        node.operands.forEach(visit);
        return;
      case 'compare': {
        if (node.operator !== 'eq') return;
        const keyOf = equalityKeyFor(node.target.kind);
        terms.push({ column: node.target.column.name, keys: new Set(node.value === null ? [] : [keyOf(node.value)]), keyOf });
        return;
      }
      case 'in': {
        const keyOf = equalityKeyFor(node.target.kind);
        const keys = new Set<string>();
        for (const value of node.values ?? []) if (value !== null) keys.add(keyOf(value));
        terms.push({ column: node.target.column.name, keys, keyOf });
        return;
      }
      case 'is':
        if (node.value === 'true' || node.value === 'false') {
          terms.push({ column: node.target.column.name, keys: new Set([node.value === 'true' ? 't' : 'f']), keyOf: (text) => text });
        }
        return;
      case 'not':
      case 'or':
        return;
    }
  };
  visit(root);
  return terms;
}

/**
 * Equalities of which every matching row meets at least one: a disjunctive cover. An AND
 * is covered by any conjunct's cover (the first), an OR by the union of its operands'
 * (each must have one). So `owner_id=eq.$sub` and `or=(owner_id.eq.$sub,shared.is.true)`
 * both index a subscriber: an event reaches it only by a key its row holds. Undefined:
 * no cover, every row must be judged. An empty cover: the filter matches no row.
 */
export function coverOf(root: ResolvedNode): FilterEquality[] | undefined {
  switch (root.tag) {
    case 'compare':
      return root.operator === 'eq' ? equalityTerms(root) : undefined;
    case 'in':
      return equalityTerms(root);
    case 'is':
      return root.value === 'true' || root.value === 'false' ? equalityTerms(root) : undefined;
    case 'and':
      for (const operand of root.operands) {
        const cover = coverOf(operand);
        if (cover) return cover;
      }
      // `and()` of nothing matches every row.
      return undefined;
    case 'or': {
      const covers: FilterEquality[] = [];
      for (const operand of root.operands) {
        const cover = coverOf(operand);
        if (!cover) return undefined;
        covers.push(...cover);
      }
      return covers;
    }
    case 'not':
      return undefined;
  }
}
