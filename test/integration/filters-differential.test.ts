// Filters are a re-implementation of Postgres semantics, so they are tested against
// Postgres itself: random filters (where= conditions and policy trees with and/or/not,
// literals and token claims) × random rows of every supported type, edge values and NULLs
// included. Postgres evaluates the filter's SQL translation; the compiled predicate
// evaluates the same rows as Postgres outputs them; the matching keys must be equal.
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFilterEngine, describeFilterColumns, type BoundFilter, type Claims, type FilterColumn, type FilterEngine, type FilterNode, type Operand, type RowText } from '../../src/filters/index.js';
import { applyTextFormat, RAW_TEXT } from '../../src/sql/text-format.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { COLUMN_SPECS, SCHEMA_SQL, type ColumnSpec } from '../support/filter-columns.js';
import { filterTexts } from '../support/filter-text.js';

type InputRow = Readonly<Record<string, string | null>>;

const ORDERED_KINDS = new Set(['integer', 'numeric', 'float', 'bool', 'date', 'timestamp', 'timestamptz', 'time', 'uuid', 'bytea']);
const CLAIM_NAMES = ['c1', 'c2', 'missing', 'constructor', '__proto__'] as const;

let db: TestDatabase;
let pool: pg.Pool;
let engine: FilterEngine;
let columns: FilterColumn[];

beforeAll(async () => {
  db = await createTestDatabase('filters_differential');
  await db.sql.query(SCHEMA_SQL);
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  engine = createFilterEngine(pool);
  const relid = await db.sql.query<{ oid: number }>(`select 'f'::regclass::oid::int4 as oid`);
  columns = await describeFilterColumns(pool, relid.rows[0]!.oid);
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

// ── arbitraries ──────────────────────────────────────────────────────────────────────

const rowArb = fc.record(Object.fromEntries(COLUMN_SPECS.map((spec) => [spec.name, fc.option(spec.value, { nil: null, freq: 6 })])) as Record<string, fc.Arbitrary<string | null>>);

/** A value for `spec`: one a row holds (as inserted, or spelled another way), one next to it, a fresh one, or a reference. */
function operandArb(spec: ColumnSpec, rows: readonly InputRow[]): fc.Arbitrary<Operand> {
  // Rows hold numerics of 131072 digits; as literals they would pass FILTER_LIMITS.maxCanonicalLength (tested apart).
  const held = rows.map((row) => row[spec.name]).filter((value): value is string => typeof value === 'string' && !/e-?\d{3,}$/i.test(value));
  const literal = (text: string): Operand => ({ kind: 'literal', text });
  const fresh = spec.value.filter((text) => !/e-?\d{3,}$/i.test(text)).map(literal);
  const reference = fc.oneof(fc.constant<Operand>({ kind: 'sub' }), fc.constantFrom(...CLAIM_NAMES).map((name): Operand => ({ kind: 'claim', name })));
  if (held.length === 0) return fc.oneof({ weight: 2, arbitrary: fresh }, { weight: 1, arbitrary: reference });
  const respelled = fc.constantFrom(...held).chain((text) => (spec.respell ? fc.oneof(fc.constant(text), spec.respell(text)) : fc.constant(text)));
  const near = fc.constantFrom(...held).chain((text) => spec.near?.(text) ?? fc.constant(text));
  return fc.oneof(
    { weight: 5, arbitrary: respelled.map(literal) },
    { weight: 3, arbitrary: near.map(literal) },
    { weight: 2, arbitrary: fresh },
    { weight: 1, arbitrary: reference },
  );
}

function conditionArb(spec: ColumnSpec, rows: readonly InputRow[]): fc.Arbitrary<FilterNode> {
  const column = spec.name;
  const isNull = fc.constant<FilterNode>({ tag: 'is', column, value: 'null' });
  if (spec.kind === 'opaque') return isNull;
  const operand = operandArb(spec, rows);
  const operators = ORDERED_KINDS.has(spec.kind) ? (['eq', 'neq', 'lt', 'lte', 'gt', 'gte'] as const) : (['eq', 'neq'] as const);
  return fc.oneof(
    { weight: 5, arbitrary: fc.tuple(fc.constantFrom(...operators), operand).map(([operator, value]): FilterNode => ({ tag: 'compare', column, operator, operand: value })) },
    { weight: 2, arbitrary: fc.array(operand, { minLength: 1, maxLength: 4 }).map((list): FilterNode => ({ tag: 'in', column, list })) },
    { weight: 1, arbitrary: fc.constantFrom('c2', 'c1', 'missing').map((name): FilterNode => ({ tag: 'in', column, list: { kind: 'claim', name } })) },
    { weight: 1, arbitrary: spec.kind === 'bool' ? fc.constantFrom('null', 'true', 'false', 'unknown').map((value): FilterNode => ({ tag: 'is', column, value })) : isNull },
  );
}

function maybeNot(node: fc.Arbitrary<FilterNode>): fc.Arbitrary<FilterNode> {
  return fc.tuple(node, fc.boolean()).map(([inner, negate]) => (negate && inner.tag !== 'not' ? { tag: 'not', operand: inner } : inner));
}

function nodeArb(rows: readonly InputRow[], depth: number): fc.Arbitrary<FilterNode> {
  const leaf = maybeNot(fc.constantFrom(...COLUMN_SPECS).chain((spec) => conditionArb(spec, rows)));
  if (depth === 0) return leaf;
  const group = fc
    .tuple(fc.constantFrom('and' as const, 'or' as const), fc.array(nodeArb(rows, depth - 1), { minLength: 1, maxLength: 4 }))
    .map(([tag, operands]): FilterNode => ({ tag, operands }));
  return fc.oneof({ weight: 3, arbitrary: leaf }, { weight: 1, arbitrary: maybeNot(group) });
}

/** Claims drawn from the rows' values (so references can match), or of other shapes. */
function claimsArb(rows: readonly InputRow[]): fc.Arbitrary<Claims> {
  const held = rows.flatMap((row) => Object.values(row)).filter((value): value is string => value !== null);
  const scalar = fc.oneof(
    { weight: 4, arbitrary: held.length > 0 ? fc.constantFrom(...held) : fc.string() },
    { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.string({ maxLength: 4 })) },
    { weight: 1, arbitrary: fc.constantFrom(null, {}, [], 'NaN', '1e999999999999', '300000000-01-01') },
  );
  const claim = fc.oneof({ weight: 3, arbitrary: scalar }, { weight: 2, arbitrary: fc.array(fc.oneof({ weight: 5, arbitrary: scalar }, { weight: 1, arbitrary: fc.constant({ a: 1 }) }), { maxLength: 5 }) });
  return fc.record({ sub: scalar, c1: claim, c2: claim }, { requiredKeys: [] });
}

const caseArb = fc
  .array(rowArb, { minLength: 10, maxLength: 40, size: 'max' })
  .chain((rows) => fc.tuple(fc.constant(rows), fc.array(fc.tuple(fc.array(nodeArb(rows, 3), { maxLength: 3 }), claimsArb(rows), fc.constantFrom('where' as const, 'policy' as const)), { minLength: 10, maxLength: 25, size: 'max' })));

// ── both sides ───────────────────────────────────────────────────────────────────────

const quoted = (name: string) => `"${name.replaceAll('"', '""')}"`;

async function replaceRows(rows: readonly InputRow[]): Promise<void> {
  const values: unknown[] = [];
  const tuples = rows.map((row, id) => {
    values.push(id);
    const cells = COLUMN_SPECS.map((spec) => {
      values.push(row[spec.name]);
      return `$${values.length}::${spec.sql}`;
    });
    return `($${values.length - COLUMN_SPECS.length}, ${cells.join(', ')})`;
  });
  await db.sql.query('truncate f');
  await db.sql.query(`insert into f (id, ${COLUMN_SPECS.map((spec) => quoted(spec.name)).join(', ')}) values ${tuples.join(', ')}`, values);
}

/** Runs `query` in a transaction with walcast's text format, every column as Postgres's text. */
async function inTextFormat<T>(query: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin read only');
    await applyTextFormat(client);
    return await query(client);
  } finally {
    await client.query('rollback');
    client.release();
  }
}

/** The rows as Postgres outputs them (what pgoutput and snapshots send). */
async function outputRows(): Promise<{ id: string; row: RowText }[]> {
  const result = await inTextFormat((client) => client.query<Record<string, string | null>>({ text: 'select * from f order by id', types: RAW_TEXT }));
  return result.rows.map((raw) => ({ id: raw['id']!, row: Object.assign(Object.create(null) as Record<string, string | null>, raw) }));
}

async function postgresMatches(filter: BoundFilter): Promise<string[]> {
  const values: unknown[] = [];
  const where = filter.toSql((value) => {
    values.push(value);
    return `$${values.length}`;
  });
  const result = await inTextFormat((client) => client.query<{ id: string }>({ text: `select t.id from f as t where ${where} order by t.id`, values, types: RAW_TEXT }));
  return result.rows.map((row) => row.id);
}

describe('filters, differentially against Postgres', () => {
  it('select exactly the rows Postgres selects, for random filters, rows and claims', async () => {
    let checks = 0;
    let filters = 0;
    let judgedWithoutColumn = 0;
    let selective = 0;
    // fast-check prints the seed of a failure; printed on success too, and WALCAST_FILTER_SEED replays one.
    const seed = Number(process.env['WALCAST_FILTER_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
    const started = performance.now();
    await fc.assert(
      fc.asyncProperty(caseArb, fc.nat(), async ([rows, cases], dropSeed) => {
        await replaceRows(rows);
        const output = await outputRows();
        for (const [nodes, claims, label] of cases) {
          const texts = filterTexts({ tag: 'and', operands: nodes });
          const prepared = await engine.prepare(texts, columns, { table: 'f', label });
          const filter = await engine.bind(prepared, claims);
          const expected = await postgresMatches(filter);
          const actual: string[] = [];
          for (const { id, row } of output) {
            const verdict = filter.matches(row);
            expect(verdict, `${texts.join('&')} on row ${id}`).not.toBe(undefined);
            if (verdict) actual.push(id);
            // Without one column the verdict may be unknown, never different.
            const dropped = COLUMN_SPECS[(dropSeed + Number(id)) % COLUMN_SPECS.length]!.name;
            const partial = filter.matches({ ...row, [dropped]: undefined });
            if (partial !== undefined) {
              judgedWithoutColumn++;
              expect(partial, `${texts.join('&')} on row ${id} without ${dropped}`).toBe(verdict);
            }
          }
          expect(actual, `${texts.join('&')} with claims ${JSON.stringify(claims)}`).toEqual(expected);
          checks += output.length;
          filters++;
          if (expected.length > 0 && expected.length < output.length) selective++;
        }
      }),
      // Shrinking re-runs Postgres for every candidate: bounded, so a failure is reported (seed, counterexample) in time.
      { numRuns: Number(process.env['WALCAST_FILTER_RUNS'] ?? 60), seed, interruptAfterTimeLimit: Number(process.env['WALCAST_FILTER_MS'] ?? 60_000) },
    );
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `filters differential (seed ${seed}): ${filters} filters × rows = ${checks} checks in ${seconds.toFixed(1)} s (${selective} filters matched some rows but not all; ` +
        `${judgedWithoutColumn} checks also judged with a column missing; ${engine.queries} canonicalization queries)`,
    );
    expect(checks).toBeGreaterThan(1000);
    expect(selective).toBeGreaterThan(filters / 10);
  }, 180_000);
});
