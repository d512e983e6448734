// Filters bench: how many predicate evaluations per second the compiled filters make on
// typical rows (as Postgres outputs them, the way streams see events), for a simple
// where=, a range on a timestamptz and a numeric, and a policy tree; and what preparing a
// filter costs cold (one query) and warm (cached).
// Usage: npm run build && npm run bench -- filters
import pg from 'pg';
import { createFilterEngine, describeFilterColumns } from '../dist/filters/index.js';
import { applyTextFormat, RAW_TEXT } from '../dist/sql/text-format.js';
import { postgres } from './lib/harness.mjs';

const ROWS = 10_000;
const ROUNDS = 30;
const FILTERS = {
  simple: { texts: ['done=eq.false'] },
  range: { texts: ['due=gte.2026-01-01', 'price=lt.100.50'] },
  list: { texts: ['status=in.(open,review,blocked)', 'priority=gte.3'] },
  policy: { texts: ['or=(owner.eq.$sub,team.in.$claim.teams,and(status.neq.draft,not.done.is.true,price.gt.1e3))'], label: 'policy' },
};

const db = await postgres();
const pool = new pg.Pool({ connectionString: db.url, max: 2 });
try {
  await db.sql(`create type status as enum ('draft', 'open', 'review', 'blocked', 'done');
    create table todos (id int8 primary key, org text not null, owner uuid, team int4, title text, done bool, priority int4,
                        price numeric(12, 2), due timestamptz, status status);
    insert into todos select g, 'org-' || (g % 10), md5(g::text)::uuid, g % 50, 'todo number ' || g, g % 3 = 0, g % 5,
                             (g % 1000) * 1.25, timestamptz '2025-06-01' + g * interval '37 minutes',
                             (enum_range(null::status))[1 + g % 5] from generate_series(1, ${ROWS}) g`);
  const relid = (await db.sql(`select 'todos'::regclass::oid::int4 as oid`)).rows[0].oid;
  const columns = await describeFilterColumns(pool, relid);
  const client = await pool.connect();
  let rows;
  try {
    await client.query('begin');
    await applyTextFormat(client);
    rows = (await client.query({ text: 'select * from todos order by id', types: RAW_TEXT })).rows;
    await client.query('rollback');
  } finally {
    client.release();
  }
  const claims = { sub: rows[7].owner, teams: [1, 2, 3, 'x'] };

  const engine = createFilterEngine(pool);
  const results = {};
  for (const [name, { texts, label }] of Object.entries(FILTERS)) {
    let started = performance.now();
    const prepared = await engine.prepare(texts, columns, { table: 'todos', label });
    const filter = await engine.bind(prepared, claims);
    const coldMs = performance.now() - started;
    started = performance.now();
    for (let i = 0; i < 100; i++) await engine.bind(await engine.prepare(texts, columns, { table: 'todos', label }), claims);
    const warmMs = (performance.now() - started) / 100;
    let matched = 0;
    started = performance.now();
    for (let round = 0; round < ROUNDS; round++) for (const row of rows) if (filter.matches(row)) matched++;
    const seconds = (performance.now() - started) / 1000;
    results[name] = {
      texts,
      evaluationsPerSecond: Math.round((ROWS * ROUNDS) / seconds),
      matchedShare: Number((matched / (ROWS * ROUNDS)).toFixed(3)),
      prepareColdMs: Number(coldMs.toFixed(2)),
      prepareWarmMs: Number(warmMs.toFixed(3)),
    };
  }
  console.log(JSON.stringify({ bench: 'filters', rows: ROWS, rounds: ROUNDS, queries: engine.queries, filters: results }));
  const rates = Object.entries(results).map(([name, result]) => `${name} ${(result.evaluationsPerSecond / 1e6).toFixed(1)}M/s`);
  console.log(
    `filters: predicate evaluations on typical rows: ${rates.join(', ')}; prepare cold ${results.policy.prepareColdMs} ms, warm ${results.policy.prepareWarmMs} ms (${engine.queries} queries for ${Object.keys(FILTERS).length * 101} prepares)`,
  );
} finally {
  await pool.end();
  await db.close();
}
