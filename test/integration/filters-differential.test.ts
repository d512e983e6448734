// Filters are a re-implementation of Postgres semantics, so they are tested against
// Postgres itself: random filters (where= conditions and policy trees with and/or/not,
// literals and token claims) × random rows of every supported type, edge values and NULLs
// included. Postgres evaluates the filter's SQL translation; the compiled predicate
// evaluates the same rows as Postgres outputs them; the matching keys must be equal.
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFilterEngine, describeFilterColumns, type BoundFilter, type FilterColumn, type FilterEngine, type RowText } from '../../src/filters/index.js';
import { applyTextFormat, RAW_TEXT } from '../../src/sql/text-format.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { COLUMN_SPECS, SCHEMA_SQL } from '../support/filter-columns.js';
import { claimsArb, nodeArb, rowArb, type InputRow } from '../support/filter-arbitraries.js';
import { filterTexts } from '../support/filter-text.js';

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

const caseArb = fc.array(rowArb, { minLength: 10, maxLength: 40, size: 'max' }).chain((rows) =>
  fc.tuple(
    fc.constant(rows),
    fc.array(fc.tuple(fc.array(nodeArb(rows, 3), { maxLength: 3 }), claimsArb(rows), fc.constantFrom('where' as const, 'policy' as const)), {
      minLength: 10,
      maxLength: 25,
      size: 'max',
    }),
  ),
);

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
  const result = await inTextFormat((client) =>
    client.query<{ id: string }>({ text: `select t.id from f as t where ${where} order by t.id`, values, types: RAW_TEXT }),
  );
  return result.rows.map((row) => row.id);
}

describe('filters, differentially against Postgres', () => {
  it('select exactly the rows Postgres selects, for random filters, rows and claims', async () => {
    let checks = 0;
    let filters = 0;
    let judgedWithoutColumn = 0;
    let selective = 0;
    let covered = 0;
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
            if (verdict) {
              actual.push(id);
              // A stream indexed by the filter's cover must be found by one of the row's keys.
              if (filter.cover) {
                const found = filter.cover.some((equality) => {
                  const value = row[equality.column];
                  return typeof value === 'string' && equality.keys.has(equality.keyOf(value));
                });
                expect(found, `${texts.join('&')}: row ${id} matches but no key of its cover`).toBe(true);
                covered++;
              }
            }
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
        `${judgedWithoutColumn} checks also judged with a column missing; ${covered} matches found by a cover; ${engine.queries} canonicalization queries)`,
    );
    expect(checks).toBeGreaterThan(1000);
    expect(selective).toBeGreaterThan(filters / 10);
  }, 180_000);
});
