// FilterNode → filter text, the inverse of src/filters/parse-filter, for tests that
// generate filters as trees and send them as a client (or a DBA) would write them.
import type { FilterNode, Operand, Reference } from '../../src/filters/index.js';

function quote(text: string): string {
  return `"${text.replace(/[\\"]/g, (char) => `\\${char}`)}"`;
}

function reference(value: Reference): string {
  return value.kind === 'sub' ? '$sub' : `$claim.${value.name}`;
}

/** Inside a group or a list every literal is quoted; at top level only when it must be. */
function operand(value: Operand, topLevel: boolean): string {
  if (value.kind !== 'literal') return reference(value);
  return topLevel && !value.text.startsWith('"') && !value.text.startsWith('$') ? value.text : quote(value.text);
}

function valueText(node: Extract<FilterNode, { tag: 'compare' | 'in' | 'is' }>, topLevel: boolean): string {
  switch (node.tag) {
    case 'compare':
      return `${node.operator}.${operand(node.operand, topLevel)}`;
    case 'in':
      return Array.isArray(node.list) ? `in.(${node.list.map((item) => operand(item, false)).join(',')})` : `in.${reference(node.list as Reference)}`;
    case 'is':
      return `is.${node.value}`;
  }
}

function column(name: string): string {
  return /^[^.,()"]+$/.test(name) && name !== 'not' && !name.startsWith('not.') && name !== 'or' && name !== 'and' ? name : quote(name);
}

/** An item inside a group: `col.op.v`, `col.not.op.v`, `or(…)`, `not.and(…)`. */
export function itemText(node: FilterNode): string {
  switch (node.tag) {
    case 'compare':
    case 'in':
    case 'is':
      return `${column(node.column)}.${valueText(node, false)}`;
    case 'not': {
      const inner = node.operand;
      if (inner.tag === 'compare' || inner.tag === 'in' || inner.tag === 'is') return `${column(inner.column)}.not.${valueText(inner, false)}`;
      return `not.${itemText(inner)}`;
    }
    case 'and':
    case 'or':
      return `${node.tag}(${node.operands.map(itemText).join(',')})`;
  }
}

/**
 * Top-level texts (several `where=`, ANDed): conditions as `col=op.v`, groups as
 * `or=(…)`. Columns must not contain `=`, as in a query string.
 */
export function filterTexts(node: FilterNode): string[] {
  if (node.tag === 'and')
    return node.operands.flatMap((operand) => (operand.tag === 'and' ? [`and=(${operand.operands.map(itemText).join(',')})`] : filterTexts(operand)));
  if (node.tag === 'or') return [`or=(${node.operands.map(itemText).join(',')})`];
  if (node.tag === 'not') {
    const inner = node.operand;
    if (inner.tag === 'and' || inner.tag === 'or') return [`not.${inner.tag}=(${inner.operands.map(itemText).join(',')})`];
    if (inner.tag === 'not') return [`and=(${itemText(node)})`];
    return [`${inner.column}=not.${valueText(inner, true)}`];
  }
  return [`${node.column}=${valueText(node, true)}`];
}
