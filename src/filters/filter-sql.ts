// A resolved filter as a SQL boolean expression, so a snapshot (or an edit's USING / WITH
// CHECK) evaluates in Postgres the very rule a stream evaluates in JS. Pure. Identifiers
// come only from the checked columns; values only through parameters, each cast to the
// column's type, NULL where a reference had no value.
import type { ComparisonOperator, ResolvedNode } from './filter-tree.js';

/** Adds a parameter and returns its placeholder (`$3`). */
export type SqlParameter = (value: string | null | readonly (string | null)[]) => string;

const SQL_OPERATOR: Record<ComparisonOperator, string> = { eq: '=', neq: '<>', lt: '<', lte: '<=', gt: '>', gte: '>=' };

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export function filterSql(node: ResolvedNode, param: SqlParameter, alias = 't'): string {
  const render = (current: ResolvedNode): string => {
    switch (current.tag) {
      case 'compare': {
        const { name, sqlType } = current.target.column;
        return `${alias}.${quoteIdentifier(name)} ${SQL_OPERATOR[current.operator]} ${param(current.value)}::${sqlType}`;
      }
      case 'in': {
        const { name, sqlType } = current.target.column;
        return `${alias}.${quoteIdentifier(name)} = any(${param(current.values)}::${sqlType}[])`;
      }
      case 'is':
        return `${alias}.${quoteIdentifier(current.target.column.name)} is ${current.value}`;
      case 'not':
        return `not (${render(current.operand)})`;
      case 'and':
      case 'or':
        if (current.operands.length === 0) return current.tag === 'and' ? 'true' : 'false';
        return `(${current.operands.map(render).join(` ${current.tag} `)})`;
    }
  };
  return render(node);
}
