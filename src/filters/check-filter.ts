// A parsed filter checked against a table's columns: every column exists (unknown and
// hidden ones are refused alike, so a hidden column's existence does not leak) and every
// operator suits its column's type (filters/column-kinds). Pure.
import { WalcastError } from '../errors.js';
import { isOrdered, kindOf, type FilterColumn } from './column-kinds.js';
import { isReference, type CheckedColumn, type CheckedNode, type ComparisonOperator, type FilterNode, type Operand } from './filter-tree.js';
import type { FilterLabel } from './parse-filter.js';

export interface CheckedFilter {
  readonly root: CheckedNode;
  readonly label: FilterLabel;
  /** Whether the filter uses `$sub` or `$claim.*`, and so must be bound per principal. */
  readonly usesReferences: boolean;
}

const ORDERING: ReadonlySet<string> = new Set<ComparisonOperator>(['lt', 'lte', 'gt', 'gte']);

export function checkFilter(filter: FilterNode, columns: readonly FilterColumn[], table: string, label: FilterLabel = 'where'): CheckedFilter {
  const byName = new Map(columns.map((column) => [column.name, column]));
  const fail = (message: string) => new WalcastError('INVALID_PARAMETER', `${label}: ${message}`);
  let usesReferences = false;
  const reference = (operand: Operand) => {
    if (operand.kind !== 'literal') usesReferences = true;
  };

  const target = (name: string): CheckedColumn => {
    const column = byName.get(name);
    if (!column) throw fail(`${table} has no column ${JSON.stringify(name.slice(0, 100))} that can be filtered`);
    return { column, kind: kindOf(column) };
  };
  const comparable = (checked: CheckedColumn, operator: string) => {
    const { name, sqlType } = checked.column;
    if (checked.kind === 'opaque') throw fail(`${name} (${sqlType}) cannot be compared; only is.null works on it`);
    if (ORDERING.has(operator) && !isOrdered(checked.kind)) {
      throw fail(`${operator} needs an ordered type (numbers, booleans, dates, times, uuid, bytea); ${name} supports eq, neq, in and is`);
    }
  };

  const check = (node: FilterNode): CheckedNode => {
    switch (node.tag) {
      case 'compare': {
        const checked = target(node.column);
        comparable(checked, node.operator);
        reference(node.operand);
        return { tag: 'compare', target: checked, operator: node.operator, operand: node.operand };
      }
      case 'in': {
        const checked = target(node.column);
        comparable(checked, 'in');
        if (isReference(node.list)) usesReferences = true;
        else node.list.forEach(reference);
        return { tag: 'in', target: checked, list: node.list };
      }
      case 'is': {
        const checked = target(node.column);
        if (node.value !== 'null' && checked.kind !== 'bool') throw fail(`is.${node.value} needs a boolean column; ${checked.column.name} is not`);
        return { tag: 'is', target: checked, value: node.value };
      }
      case 'not':
        return { tag: 'not', operand: check(node.operand) };
      case 'and':
      case 'or':
        return { tag: node.tag, operands: node.operands.map(check) };
    }
  };
  return { root: check(filter), label, usesReferences };
}
