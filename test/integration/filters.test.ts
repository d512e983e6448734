// Filters against a real Postgres, beyond the differential test: what Postgres refuses is
// a 400 naming the column (a claim it refuses is NULL instead), the catalog read that types
// columns, and the cache that lets thousands of streams open with one query.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WalcastError } from '../../src/errors.js';
import { createFilterEngine, describeFilterColumns, FILTER_LIMITS, type FilterColumn, type FilterEngine } from '../../src/filters/index.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

let db: TestDatabase;
let pool: pg.Pool;
let engine: FilterEngine;
let columns: FilterColumn[];

beforeAll(async () => {
  db = await createTestDatabase('filters');
  await db.sql.query(`
    create type mood as enum ('sad', 'ok', 'happy');
    create domain positive_int as int4 check (value > 0);
    create domain money_amount as numeric(10, 2);
    create collation caseless (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
    create table items (
      id int4 primary key, big int8, small int2, price numeric(10, 2), amount money_amount, ratio float4, done bool,
      title text, code char(5), caseless text collate caseless, uid uuid, due date, at timestamp, at_tz timestamptz,
      clock time, mood mood, addr inet, raw bytea, n positive_int, doc jsonb, span interval, tags text[]);
    insert into items (id, big, price, amount, code, caseless, due, n) values
      (1, 10, 1.00, 1.00, 'ab', 'Abc', '2020-01-01', 1), (2, 20, 1.01, 1.01, 'ab   ', 'abc', '300000-01-01', 2),
      (3, null, 1.10, 1.10, 'abc', null, '2020-01-01 BC', 3);`);
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  engine = createFilterEngine(pool);
  const relid = await db.sql.query<{ oid: number }>(`select 'items'::regclass::oid::int4 as oid`);
  columns = await describeFilterColumns(pool, relid.rows[0]!.oid);
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

async function refusal(texts: string[], label: 'where' | 'policy' = 'where'): Promise<WalcastError> {
  const error = await engine.prepare(texts, columns, { table: 'items', label }).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error, texts.join('&')).toBeInstanceOf(WalcastError);
  expect((error as WalcastError).code).toBe('INVALID_PARAMETER');
  expect((error as WalcastError).status).toBe(400);
  return error as WalcastError;
}

/** Ids of the rows the filter selects in Postgres, through its SQL translation. */
async function selectedIds(texts: string[], claims: Record<string, unknown> = {}): Promise<number[]> {
  const filter = await engine.bind(await engine.prepare(texts, columns, { table: 'items' }), claims);
  const values: unknown[] = [];
  const where = filter.toSql((value) => {
    values.push(value);
    return `$${values.length}`;
  });
  const { rows } = await pool.query<{ id: number }>(`select t.id from items as t where ${where} order by t.id`, values);
  return rows.map((row) => row.id);
}

describe('filters against Postgres', () => {
  it('refuse with a 400 naming the column every value Postgres cannot take for it', async () => {
    for (const [column, value] of [
      ['id', '1e999999999999'],
      ['big', '1e999999999999'],
      ['big', '9223372036854775808'],
      ['small', '40000'],
      ['id', 'NaN'],
      ['price', 'abc'],
      ['ratio', '1e300'],
      ['done', 'maybe'],
      ['due', '300000000-01-01'],
      ['at', '294277-01-01'],
      ['at_tz', '2020-01-01 10:00 Mars/Olympus'],
      ['clock', '25:00'],
      ['uid', 'not-a-uuid'],
      ['mood', 'angry'],
      ['addr', '300.1.1.1'],
      ['raw', '\\xZZ'],
      ['title', 'a\u0000b'],
    ]) {
      const error = await refusal([`${column}=gte.${value}`.replace('gte', ['mood', 'addr', 'title'].includes(column!) ? 'eq' : 'gte')]);
      expect(error.message).toMatch(new RegExp(`^where: ${column} cannot take `));
      expect(error.details).toEqual({ column });
    }
  });

  it('finds the refused value among many, in lists and policy groups alike', async () => {
    expect((await refusal(['id=in.(1,2,3,4,5,6,7,x,9)', 'big=eq.1'])).details).toEqual({ column: 'id' });
    const error = await refusal(['or=(id.eq.1,and(big.gt.2,not.due.gt."300000000-01-01"))'], 'policy');
    expect(error.message).toMatch(/^policy: due cannot take "300000000-01-01"/);
  });

  it('finds a refusal among the most values a filter may hold in a few queries, and still reads the others for concurrent filters', async () => {
    const fresh = createFilterEngine(pool);
    const bad = (from: number) => `id=in.(${Array.from({ length: 100 }, (_, i) => `x${from + i}`).join(',')})`;
    const error = await fresh
      .prepare([bad(0), bad(100), 'big=in.(' + Array.from({ length: 56 }, (_, i) => `y${i}`).join(',') + ')'], columns, { table: 'items' })
      .catch((thrown: unknown) => thrown);
    expect((error as WalcastError).details).toEqual({ column: 'id' });
    expect(fresh.queries).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(FILTER_LIMITS.maxValues)) + 1);
    const [refused, accepted] = await Promise.allSettled([
      fresh.prepare(['id=in.(nope,5)'], columns, { table: 'items' }),
      fresh.prepare(['id=eq.5'], columns, { table: 'items' }),
    ]);
    expect(refused.status === 'rejected' && (refused.reason as WalcastError).code).toBe('INVALID_PARAMETER');
    expect(accepted.status).toBe('fulfilled');
  });

  it('refuses a value longer than the bound once Postgres has read it', async () => {
    const error = await refusal(['price=lt.1e20000']);
    expect(error.message).toMatch(/longer than 16384 characters once Postgres reads them/);
  });

  it('types columns from the catalog: domains unwrapped, enums, collations, arrays', () => {
    const byName = new Map(columns.map((column) => [column.name, column]));
    expect(byName.get('n')).toMatchObject({ type: { kind: 'scalar', oid: 23 }, sqlType: 'integer', isEnum: false });
    expect(byName.get('amount')).toMatchObject({ type: { kind: 'scalar', oid: 1700 }, sqlType: 'numeric' });
    expect(byName.get('code')).toMatchObject({ sqlType: 'bpchar' });
    expect(byName.get('mood')).toMatchObject({ isEnum: true, sqlType: 'mood' });
    expect(byName.get('caseless')).toMatchObject({ deterministic: false });
    expect(byName.get('title')).toMatchObject({ deterministic: true });
    expect(byName.get('tags')).toMatchObject({ type: { kind: 'array', elementOid: 25 } });
  });

  it('refuses comparisons it cannot make exactly, and allows is.null on any column', async () => {
    for (const text of ['caseless=eq.abc', 'doc=eq.{}', 'span=eq.1 day', 'tags=eq.{}'])
      expect((await refusal([text])).message).toMatch(/cannot be compared; only is.null/);
    expect((await refusal(['title=gt.m'])).message).toMatch(/gt needs an ordered type/);
    expect((await refusal(['nope=eq.1'])).message).toBe('where: items has no column "nope" that can be filtered');
    expect(await selectedIds(['caseless=is.null'])).toEqual([3]);
  });

  it('compares values as written, not rounded to the column modifier; numeric and bpchar equality as Postgres', async () => {
    expect(await selectedIds(['price=gt.1.005'])).toEqual([2, 3]);
    expect(await selectedIds(['amount=eq.1.1'])).toEqual([3]);
    expect(await selectedIds(['code=eq.ab'])).toEqual([1, 2]);
    expect(await selectedIds(['due=gte.2020-01-01'])).toEqual([1, 2]);
  });

  it('treats a claim Postgres refuses, or one the token lacks, as NULL: it matches nothing, negated or not', async () => {
    for (const claims of [{ x: '1e999999999999' }, {}, { x: { nested: 1 } }, { x: ['1'] }]) {
      expect(await selectedIds(['big=eq.$claim.x'], claims)).toEqual([]);
      expect(await selectedIds(['big=not.eq.$claim.x'], claims)).toEqual([]);
    }
    expect(await selectedIds(['big=in.$claim.x'], { x: [10, '20', 'x'] })).toEqual([1, 2]);
    expect(await selectedIds(['id=eq.$sub'], { sub: '3' })).toEqual([3]);
  });

  it('reads a filter once for any number of streams opening with it at the same time', async () => {
    const fresh = createFilterEngine(pool);
    const texts = ['big=gt.5', 'due=gte.2020-01-01', 'mood=in.(sad,ok)'];
    const prepared = await Promise.all(Array.from({ length: 1_000 }, () => fresh.prepare(texts, columns, { table: 'items' })));
    expect(fresh.queries).toBe(1);
    await Promise.all(prepared.map((filter, i) => fresh.bind(filter, { sub: `user-${i}` })));
    await fresh.prepare(texts, columns, { table: 'items' });
    expect(fresh.queries).toBe(1);
    const policy = await fresh.prepare(['or=(id.eq.$sub,big.in.$claim.teams)'], columns, { table: 'items', label: 'policy' });
    await Promise.all(Array.from({ length: 1_000 }, () => fresh.bind(policy, { sub: '1', teams: [10, 20] })));
    expect(fresh.queries).toBe(2);
  });
});
