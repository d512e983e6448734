// What the rest of walcast may import from filters. Typical use:
//
//   const filters = createFilterEngine(pool);                     // once per server
//   const columns = await describeFilterColumns(pool, relid);      // per table (visible ones for where=)
//   const prepared = await filters.prepare(whereTexts, columns, { table: 'public.todos' });  // 400s here
//   const filter = await filters.bind(prepared, principalClaims);  // per stream / principal
//   filter.matches(rowText)            // per event: true | false | undefined (a column not sent)
//   filter.toSql(param, 't')           // snapshots, edits: the same rule in Postgres
//   filter.equalities                  // indexed dispatch: `col = v` every matching row meets
//   combineFilters([policy, where])    // both must hold: one predicate, one SQL expression
export { FILTER_LIMITS, type ComparisonOperator, type FilterNode, type IsValue, type Operand, type Reference, type ResolvedNode } from './filter-tree.js';
export { parseFilter, type FilterLabel } from './parse-filter.js';
export { kindOf, type FilterColumn, type ValueKind } from './column-kinds.js';
export { checkFilter, type CheckedFilter } from './check-filter.js';
export { combineFilters, type BoundFilter, type Claims, type PreparedFilter } from './resolve-filter.js';
export type { RowPredicate, RowText } from './evaluate-filter.js';
export type { SqlParameter } from './filter-sql.js';
export type { FilterEquality } from './equality-terms.js';
export { createFilterEngine, type FilterEngine, type PrepareOptions } from './filter-engine.js';
export type { CanonicalizerOptions } from './canonical-values.js';
export { describeFilterColumns } from './filter-columns.js';
export { clientFilters, type ClientFilters } from './client-filters.js';
export { createPolicies, NO_ROW, type Policies } from './policies.js';
