// Filter text → FilterNode, PostgREST-style (DESIGN §4 `where=`, §10 policies). Pure; any
// malformed or oversized input is a WalcastError INVALID_PARAMETER, never another throw.
//
//   condition  col=op.value   col=not.op.value           (each where= text; several are ANDed)
//   group      or=(item,…)   and=(…)   not.or=(…)   not.and=(…)
//   item       col.op.value   col.not.op.value   not.col.op.value   or(…)   and(…)   not.or(…)
//   op         eq neq lt lte gt gte  in.(a,"b,c")  is.null|true|false|unknown
//   value      text   "quoted, with \" and \\ escapes"   $sub   $claim.NAME
//
// Inside a group a value ends at `,` or `)`, so one holding `, ( ) "` is written in quotes;
// a top-level condition's value is the rest of the text, as written. A value that begins
// with `$` is a reference; a literal that begins with `$` is written in quotes.
import { WalcastError } from '../errors.js';
import { FILTER_LIMITS, type ComparisonOperator, type FilterNode, type IsValue, type Operand, type Reference } from './filter-tree.js';

const COMPARISONS: ReadonlySet<string> = new Set<ComparisonOperator>(['eq', 'neq', 'lt', 'lte', 'gt', 'gte']);
const IS_VALUES: ReadonlySet<string> = new Set<IsValue>(['null', 'true', 'false', 'unknown']);
const OPERATOR_LIST = 'eq, neq, lt, lte, gt, gte, in, is';

/** `where` or `policy`: the word error messages start with. */
export type FilterLabel = 'where' | 'policy';

/** A short, printable excerpt of user text for an error message. */
function excerpt(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

class FilterParser {
  private pos = 0;
  private text = '';
  private terms = 0;
  private values = 0;

  constructor(private readonly label: FilterLabel) {}

  fail(message: string): WalcastError {
    return new WalcastError('INVALID_PARAMETER', `${this.label}: ${message}`);
  }

  /** One `where=` text (or a policy): a condition or a top-level group. */
  parseText(text: string): FilterNode {
    this.text = text;
    this.pos = 0;
    const equals = text.indexOf('=');
    if (equals <= 0) throw this.fail(`${excerpt(text)} is not column=operator.value, or=(…) or and=(…)`);
    const key = text.slice(0, equals);
    if (text[equals + 1] === '(' && (key === 'or' || key === 'and' || key === 'not.or' || key === 'not.and')) {
      this.pos = equals + 1;
      const negated = key.startsWith('not.');
      const group = this.group(negated ? key.slice(4) : key, 1);
      if (this.pos !== text.length) throw this.fail(`unexpected text after the closing parenthesis of ${key}=(…)`);
      return negated ? { tag: 'not', operand: group } : group;
    }
    this.pos = equals + 1;
    return this.condition(key, 'top');
  }

  private take(word: string): boolean {
    if (!this.text.startsWith(word, this.pos)) return false;
    this.pos += word.length;
    return true;
  }

  private peek(): string | undefined {
    return this.text[this.pos];
  }

  /** `(item,item,…)` at `pos`, as an and/or node; `depth` counts this group. */
  private group(kind: string, depth: number): FilterNode {
    if (depth > FILTER_LIMITS.maxDepth) throw this.fail(`groups nest at most ${FILTER_LIMITS.maxDepth} deep`);
    this.pos++; // (
    const operands: FilterNode[] = [];
    for (;;) {
      operands.push(this.item(depth));
      const next = this.peek();
      this.pos++;
      if (next === ')') break;
      if (next !== ',') throw this.fail(`${kind}(…) items are separated by commas and closed by )`);
    }
    return kind === 'or' ? { tag: 'or', operands } : { tag: 'and', operands };
  }

  /** A group or a condition inside a group. */
  private item(depth: number): FilterNode {
    const negated = this.take('not.');
    let node: FilterNode;
    if (this.text.startsWith('or(', this.pos)) {
      this.pos += 2;
      node = this.group('or', depth + 1);
    } else if (this.text.startsWith('and(', this.pos)) {
      this.pos += 3;
      node = this.group('and', depth + 1);
    } else {
      const column = this.columnName();
      node = this.condition(column, 'item');
    }
    return negated ? { tag: 'not', operand: node } : node;
  }

  /** A column inside a group: up to the next `.`, or double-quoted. */
  private columnName(): string {
    let column: string;
    if (this.peek() === '"') {
      column = this.quoted();
    } else {
      const start = this.pos;
      while (this.pos < this.text.length && !'.,()"'.includes(this.text[this.pos]!)) this.pos++;
      column = this.text.slice(start, this.pos);
      if (column === '') throw this.fail(`expected a condition col.op.value at ${excerpt(this.text.slice(start))}`);
    }
    if (!this.take('.')) throw this.fail(`${excerpt(column)} is not followed by .operator.value`);
    return column;
  }

  /** `[not.]op.value` after a column; `where` says how far a value reaches. */
  private condition(column: string, where: 'top' | 'item'): FilterNode {
    if (++this.terms > FILTER_LIMITS.maxTerms) throw this.fail(`at most ${FILTER_LIMITS.maxTerms} conditions`);
    const negated = this.take('not.');
    const start = this.pos;
    while (this.pos < this.text.length && /[a-z]/.test(this.text[this.pos]!)) this.pos++;
    const operator = this.text.slice(start, this.pos);
    if (!COMPARISONS.has(operator) && operator !== 'in' && operator !== 'is') {
      const shown = where === 'top' ? this.text.slice(start) : this.text.slice(start, this.pos + 1);
      throw this.fail(`unknown operator in ${excerpt(shown)} (${OPERATOR_LIST})`);
    }
    if (!this.take('.')) throw this.fail(`${operator} needs a value: ${operator}.value`);
    let node: FilterNode;
    if (operator === 'is') {
      const word = this.rawValue(where);
      if (!IS_VALUES.has(word)) throw this.fail('is. takes null, true, false or unknown');
      node = { tag: 'is', column, value: word as IsValue };
    } else if (operator === 'in') {
      node = { tag: 'in', column, list: this.peek() === '$' ? this.reference(where) : this.list() };
    } else {
      node = { tag: 'compare', column, operator: operator as ComparisonOperator, operand: this.operand(where) };
    }
    if (where === 'top' && this.pos !== this.text.length) throw this.fail(`unexpected text after the value of ${excerpt(column)}`);
    return negated ? { tag: 'not', operand: node } : node;
  }

  /** One value: quoted, a reference, or as written. */
  private operand(where: 'top' | 'item' | 'list'): Operand {
    const first = this.peek();
    if (first === '$') return this.reference(where);
    if (++this.values > FILTER_LIMITS.maxValues) throw this.fail(`at most ${FILTER_LIMITS.maxValues} values`);
    if (first === '"') return { kind: 'literal', text: this.quoted() };
    return { kind: 'literal', text: this.rawValue(where) };
  }

  /** Unquoted text: the rest of a top-level condition, else up to `,` or `)`. */
  private rawValue(where: 'top' | 'item' | 'list'): string {
    const start = this.pos;
    if (where === 'top') {
      this.pos = this.text.length;
      return this.text.slice(start);
    }
    while (this.pos < this.text.length && this.text[this.pos] !== ',' && this.text[this.pos] !== ')') {
      const char = this.text[this.pos]!;
      if (char === '(' || char === '"') throw this.fail(`a value holding , ( ) or " is written in double quotes: ${excerpt(this.text.slice(start))}`);
      this.pos++;
    }
    return this.text.slice(start, this.pos);
  }

  /** `"…"` at `pos`: backslash escapes the next character. */
  private quoted(): string {
    const start = this.pos++;
    let value = '';
    while (this.pos < this.text.length) {
      const char = this.text[this.pos++]!;
      if (char === '"') return value;
      if (char === '\\') {
        if (this.pos >= this.text.length) break;
        value += this.text[this.pos++];
      } else {
        value += char;
      }
    }
    throw this.fail(`unterminated quote in ${excerpt(this.text.slice(start))}`);
  }

  /** `$sub` or `$claim.NAME`; the name reaches as far as an unquoted value would. */
  private reference(where: 'top' | 'item' | 'list'): Reference {
    const word = this.rawValue(where);
    if (word === '$sub') return { kind: 'sub' };
    if (word.startsWith('$claim.') && word.length > '$claim.'.length) return { kind: 'claim', name: word.slice('$claim.'.length) };
    throw this.fail(`${excerpt(word)} is neither $sub nor $claim.NAME; a literal that begins with $ is written in double quotes`);
  }

  /** `(a,"b,c",$sub)` at `pos`. */
  private list(): Operand[] {
    if (this.peek() !== '(') throw this.fail('in. takes a list in parentheses: in.(a,b), or $claim.NAME');
    this.pos++;
    if (this.peek() === ')') throw this.fail(`in.(…) takes 1 to ${FILTER_LIMITS.maxInValues} values`);
    const items: Operand[] = [];
    for (;;) {
      if (items.length === FILTER_LIMITS.maxInValues) throw this.fail(`in.(…) takes at most ${FILTER_LIMITS.maxInValues} values`);
      items.push(this.operand('list'));
      const next = this.peek();
      this.pos++;
      if (next === ')') return items;
      if (next !== ',') throw this.fail(next === undefined ? 'in.(… is not closed by )' : `unexpected ${excerpt(next)} in in.(…)`);
    }
  }
}

/**
 * Several `where=` texts (or one policy) → one filter, their conditions ANDed.
 * Throws WalcastError INVALID_PARAMETER for anything malformed or past FILTER_LIMITS.
 */
export function parseFilter(texts: readonly string[], label: FilterLabel = 'where'): FilterNode {
  const parser = new FilterParser(label);
  let length = 0;
  for (const text of texts) length += text.length;
  if (length > FILTER_LIMITS.maxLength) throw parser.fail(`at most ${FILTER_LIMITS.maxLength} characters of filter text`);
  const operands = texts.map((text) => parser.parseText(text));
  return operands.length === 1 ? operands[0]! : { tag: 'and', operands };
}
