// A checked filter's values made canonical: literals once per filter (a value Postgres
// refuses for its column is a 400 naming the column), references once per principal
// (a claim that is missing, of the wrong shape or refused is SQL NULL, never an error).
// The canonicalization itself is injected (filters/canonical-values asks Postgres).
import { WalcastError } from '../errors.js';
import type { CheckedFilter } from './check-filter.js';
import { compilePredicate, type RowPredicate } from './evaluate-filter.js';
import { coverOf, equalityTerms, type FilterEquality } from './equality-terms.js';
import { filterSql, type SqlParameter } from './filter-sql.js';
import { FILTER_LIMITS, isReference, type CheckedColumn, type CheckedNode, type Operand, type Reference, type ResolvedNode } from './filter-tree.js';

/** A value to read as `sqlType` and write back as Postgres's output text. */
export interface CanonicalRequest {
  readonly sqlType: string;
  readonly text: string;
}

export type CanonicalResult = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly reason: string };

/**
 * One result per request, in order; rejects only when Postgres cannot be asked. With
 * `firstRefusal`, reading may stop at a refusal: the values left unread are undefined.
 */
export type Canonicalize = (
  requests: readonly CanonicalRequest[],
  options?: { readonly firstRefusal?: boolean },
) => Promise<readonly (CanonicalResult | undefined)[]>;

/** A filter whose literals are canonical; its references wait for a principal (`bindFilter`). */
export interface PreparedFilter {
  readonly checked: CheckedFilter;
  /** Whether it uses `$sub` or `$claim.*`: then each principal needs its own `bindFilter`. */
  readonly usesReferences: boolean;
  /** Canonical text of each literal operand. */
  readonly literals: ReadonlyMap<Operand, string>;
}

/** A verified token's payload: `$sub` is its `sub`, `$claim.NAME` its `NAME`. */
export type Claims = Readonly<Record<string, unknown>>;

export interface BoundFilter {
  readonly root: ResolvedNode;
  /** true: the row matches; false: it does not (SQL false or NULL); undefined: a column it needs was not sent. */
  readonly matches: RowPredicate;
  /** Conditions every matching row meets. */
  readonly equalities: readonly FilterEquality[];
  /** Equalities of which every matching row meets one (indexed dispatch); undefined: none. */
  readonly cover: readonly FilterEquality[] | undefined;
  /** The same rule as SQL over `<alias>.<column>`, its values added through `param`. */
  toSql(param: SqlParameter, alias?: string): string;
}

function walkOperands(node: CheckedNode, visit: (operand: Operand | Reference, target: CheckedColumn, asList: boolean) => void): void {
  switch (node.tag) {
    case 'compare':
      visit(node.operand, node.target, false);
      return;
    case 'in':
      if (isReference(node.list)) visit(node.list, node.target, true);
      else for (const item of node.list) visit(item, node.target, false);
      return;
    case 'is':
      return;
    case 'not':
      walkOperands(node.operand, visit);
      return;
    case 'and':
    case 'or':
      for (const operand of node.operands) walkOperands(operand, visit);
  }
}

/** Dedupes requests by (type, text) and canonicalizes them in one call. */
async function canonicalTexts(
  canonicalize: Canonicalize,
  wanted: readonly CanonicalRequest[],
  firstRefusal: boolean,
): Promise<Map<string, CanonicalResult | undefined>> {
  const unique = new Map<string, CanonicalRequest>();
  for (const request of wanted) unique.set(requestKey(request), request);
  const requests = [...unique.values()];
  const results = requests.length > 0 ? await canonicalize(requests, { firstRefusal }) : [];
  return new Map(requests.map((request, i) => [requestKey(request), results[i]]));
}

function requestKey(request: CanonicalRequest): string {
  return `${request.sqlType}\u0000${request.text}`;
}

/** Canonicalizes every literal; a value Postgres refuses for its column is a 400 naming it. */
export async function prepareFilter(checked: CheckedFilter, canonicalize: Canonicalize): Promise<PreparedFilter> {
  const wanted: { operand: Operand; target: CheckedColumn; request: CanonicalRequest }[] = [];
  walkOperands(checked.root, (operand, target) => {
    if (operand.kind === 'literal') wanted.push({ operand, target, request: { sqlType: target.column.sqlType, text: operand.text } });
  });
  const results = await canonicalTexts(
    canonicalize,
    wanted.map((entry) => entry.request),
    true,
  );
  for (const { target, request } of wanted) {
    const result = results.get(requestKey(request));
    if (result?.ok === false) {
      const name = target.column.name;
      const shown = JSON.stringify(request.text.length > 40 ? `${request.text.slice(0, 40)}…` : request.text);
      throw new WalcastError('INVALID_PARAMETER', `${checked.label}: ${name} cannot take ${shown}: ${result.reason}`, { details: { column: name } });
    }
  }
  // No refusal: every value was read.
  const literals = new Map<Operand, string>();
  let length = 0;
  for (const { operand, target, request } of wanted) {
    const result = results.get(requestKey(request)) as Extract<CanonicalResult, { ok: true }>;
    const name = target.column.name;
    length += result.text.length;
    if (length > FILTER_LIMITS.maxCanonicalLength) {
      throw new WalcastError(
        'INVALID_PARAMETER',
        `${checked.label}: the values are longer than ${FILTER_LIMITS.maxCanonicalLength} characters once Postgres reads them`,
        { details: { column: name } },
      );
    }
    literals.set(operand, result.text);
  }
  return { checked, usesReferences: checked.usesReferences, literals };
}

/** A claim as literal text: strings, finite numbers and booleans; anything else is NULL. */
function claimText(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return value.length <= FILTER_LIMITS.maxClaimLength ? value : undefined;
    case 'number':
      return Number.isFinite(value) ? String(value) : undefined;
    case 'boolean':
      return String(value);
    default:
      return undefined;
  }
}

function claimOf(reference: Reference, claims: Claims): unknown {
  return reference.kind === 'sub' ? claims['sub'] : Object.hasOwn(claims, reference.name) ? claims[reference.name] : undefined;
}

/** A claim used as a whole `in` list: an array (a scalar is a list of one); too long or anything else is NULL. */
function claimList(value: unknown): (string | undefined)[] | undefined {
  if (Array.isArray(value)) return value.length <= FILTER_LIMITS.maxClaimValues ? value.map(claimText) : undefined;
  const text = claimText(value);
  return text === undefined ? undefined : [text];
}

/**
 * The filter for one principal: references take the token's values, canonical for their
 * column, or NULL. Without references no query is made.
 */
export async function bindFilter(prepared: PreparedFilter, claims: Claims, canonicalize: Canonicalize): Promise<BoundFilter> {
  const wanted: CanonicalRequest[] = [];
  if (prepared.usesReferences) {
    walkOperands(prepared.checked.root, (operand, target, asList) => {
      if (operand.kind === 'literal') return;
      const value = claimOf(operand, claims);
      const texts = asList ? (claimList(value) ?? []) : [claimText(value)];
      for (const text of texts) if (text !== undefined) wanted.push({ sqlType: target.column.sqlType, text });
    });
  }
  const results = await canonicalTexts(canonicalize, wanted, false);
  const canonical = (sqlType: string, text: string | undefined): string | null => {
    if (text === undefined) return null;
    const result = results.get(requestKey({ sqlType, text }));
    return result?.ok && result.text.length <= FILTER_LIMITS.maxClaimLength ? result.text : null;
  };
  const valueOf = (operand: Operand, target: CheckedColumn): string | null =>
    operand.kind === 'literal' ? prepared.literals.get(operand)! : canonical(target.column.sqlType, claimText(claimOf(operand, claims)));

  const resolve = (node: CheckedNode): ResolvedNode => {
    switch (node.tag) {
      case 'compare':
        return { tag: 'compare', target: node.target, operator: node.operator, value: valueOf(node.operand, node.target) };
      case 'in': {
        if (!isReference(node.list)) return { tag: 'in', target: node.target, values: node.list.map((item) => valueOf(item, node.target)) };
        const list = claimList(claimOf(node.list, claims));
        return { tag: 'in', target: node.target, values: list ? list.map((text) => canonical(node.target.column.sqlType, text)) : null };
      }
      case 'is':
        return node;
      case 'not':
        return { tag: 'not', operand: resolve(node.operand) };
      case 'and':
      case 'or':
        return { tag: node.tag, operands: node.operands.map(resolve) };
    }
  };
  return boundFilter(resolve(prepared.checked.root));
}

/** Several filters that must all hold (a policy, a client's where=): one predicate, one SQL expression, all their equalities. */
export function combineFilters(filters: readonly BoundFilter[]): BoundFilter {
  return boundFilter({ tag: 'and', operands: filters.map((filter) => filter.root) });
}

export function boundFilter(root: ResolvedNode): BoundFilter {
  return {
    root,
    matches: compilePredicate(root),
    equalities: equalityTerms(root),
    cover: coverOf(root),
    toSql: (param, alias = 't') => filterSql(root, param, alias),
  };
}
