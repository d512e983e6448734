// A resolved filter compiled to a predicate over a row of Postgres output text, with SQL's
// three-valued logic: a comparison with NULL is NULL, `not` of NULL is NULL, and a row
// matches only when the whole filter is TRUE (as in a WHERE clause). Pure, synchronous,
// total: it never throws and allocates nothing per row beyond what a comparison needs.
import { comparatorFor, equalityKeyFor } from './compare-text.js';
import type { ComparisonOperator, ResolvedNode } from './filter-tree.js';

/**
 * A row as Postgres output text per column (TEXT_FORMAT): null for SQL NULL; a column
 * that is absent or undefined was not sent (an unchanged TOAST value). Anything else a
 * property may hold (an inherited `constructor`) also counts as not sent; build rows with
 * `Object.create(null)` so that a column named `__proto__` can be sent.
 */
export type RowText = Readonly<Record<string, string | null | undefined>>;

/** true / false, or undefined when the answer depends on a column the row lacks. */
export type RowPredicate = (row: RowText) => boolean | undefined;

// A truth value is the set of SQL values it may be: a known TRUE, FALSE or NULL, or, when
// a needed column is missing, any of them. Sets keep and/or/not exact for every case the
// missing column could be.
const TRUE = 1;
const FALSE = 2;
const NULL = 4;
const ANY = TRUE | FALSE | NULL;

type Truth = number;
type Test = (row: RowText) => Truth;

function kleeneAnd(a: number, b: number): number {
  return a === FALSE || b === FALSE ? FALSE : a === NULL || b === NULL ? NULL : TRUE;
}

function kleeneOr(a: number, b: number): number {
  return a === TRUE || b === TRUE ? TRUE : a === NULL || b === NULL ? NULL : FALSE;
}

/** The operator lifted to sets of truth values, as a lookup table indexed by `a * 8 + b`. */
function liftTable(operator: (a: number, b: number) => number): Uint8Array {
  const table = new Uint8Array(64);
  for (let a = 1; a < 8; a++) {
    for (let b = 1; b < 8; b++) {
      let result = 0;
      for (const x of [TRUE, FALSE, NULL]) for (const y of [TRUE, FALSE, NULL]) if (a & x && b & y) result |= operator(x, y);
      table[a * 8 + b] = result;
    }
  }
  return table;
}

const AND = liftTable(kleeneAnd);
const OR = liftTable(kleeneOr);

function not(truth: Truth): Truth {
  return ((truth & TRUE) << 1) | ((truth & FALSE) >> 1) | (truth & NULL);
}

const ORDER_TEST: Record<ComparisonOperator, (order: number) => boolean> = {
  eq: (order) => order === 0,
  neq: (order) => order !== 0,
  lt: (order) => order < 0,
  lte: (order) => order <= 0,
  gt: (order) => order > 0,
  gte: (order) => order >= 0,
};

function compileNode(node: ResolvedNode): Test {
  switch (node.tag) {
    case 'compare': {
      const { value, operator } = node;
      const { name } = node.target.column;
      // x op NULL is NULL whatever x is, sent or not.
      if (value === null) return () => NULL;
      if (operator === 'eq' || operator === 'neq') {
        const keyOf = equalityKeyFor(node.target.kind);
        const key = keyOf(value);
        const equal = operator === 'eq' ? TRUE : FALSE;
        const unequal = operator === 'eq' ? FALSE : TRUE;
        return (row) => {
          const text = row[name];
          if (typeof text !== 'string') return text === null ? NULL : ANY;
          return keyOf(text) === key ? equal : unequal;
        };
      }
      const compare = comparatorFor(node.target.kind)!;
      const holds = ORDER_TEST[operator];
      return (row) => {
        const text = row[name];
        if (typeof text !== 'string') return text === null ? NULL : ANY;
        const order = compare(text, value);
        return order !== order ? ANY : holds(order) ? TRUE : FALSE;
      };
    }
    case 'in': {
      const { values } = node;
      const { name } = node.target.column;
      // `x = any(NULL)` is NULL; `x = any('{}')` is FALSE, even for a NULL x.
      if (values === null) return () => NULL;
      if (values.length === 0) return () => FALSE;
      const keyOf = equalityKeyFor(node.target.kind);
      const keys = new Set<string>();
      let otherwise = FALSE;
      for (const value of values) {
        if (value === null)
          otherwise = NULL; // no match, and one item unknown: unknown
        else keys.add(keyOf(value));
      }
      return (row) => {
        const text = row[name];
        if (typeof text !== 'string') return text === null ? NULL : ANY;
        return keys.has(keyOf(text)) ? TRUE : otherwise;
      };
    }
    case 'is': {
      const { name } = node.target.column;
      const wanted = node.value === 'true' ? 't' : node.value === 'false' ? 'f' : null;
      return (row) => {
        const text = row[name];
        if (typeof text !== 'string' && text !== null) return ANY;
        return text === wanted ? TRUE : FALSE;
      };
    }
    case 'not': {
      const operand = compileNode(node.operand);
      return (row) => not(operand(row));
    }
    case 'and': {
      const operands = node.operands.map(compileNode);
      return (row) => {
        let truth: Truth = TRUE;
        for (const operand of operands) {
          truth = AND[truth * 8 + operand(row)]!;
          if (truth === FALSE) return FALSE;
        }
        return truth;
      };
    }
    case 'or': {
      const operands = node.operands.map(compileNode);
      return (row) => {
        let truth: Truth = FALSE;
        for (const operand of operands) {
          truth = OR[truth * 8 + operand(row)]!;
          if (truth === TRUE) return TRUE;
        }
        return truth;
      };
    }
  }
}

export function compilePredicate(root: ResolvedNode): RowPredicate {
  const test = compileNode(root);
  return function matchesFilter(row) {
    const truth = test(row);
    return truth === TRUE ? true : (truth & TRUE) === 0 ? false : undefined;
  };
}
