// What REPLICA IDENTITY FULL costs in WAL: bytes written per updated and per deleted row
// under wal_level=replica (no logical decoding), logical with the DEFAULT identity (the
// primary key), logical with FULL, and logical with a unique (tenant, id) index as the
// identity (what a DBA can give a table so that walcast.expose() leaves it alone), for
// three row shapes: narrow (4 columns), wide (30 columns, about 1 KB) and one with an
// 8 KB TOASTed text value.
// Rows are updated, then deleted, 1,000 per statement, so commit records are negligible.
// Tables are filled to fillfactor 100, so every UPDATE puts the new version on another
// page (not HOT) and inserts into each index: the index identity's extra index shows up
// there. full_page_writes is off: a page image after a checkpoint costs the same under
// either identity and would blur the per-row record size.
// Usage: npm run build && node bench/identity-wal.mjs
//   WALCAST_BENCH_PG_BIN=/usr/lib/postgresql/15/bin   another Postgres (default: embedded 18)
//   IDENTITY_WAL_ROWS=100000                          rows per shape (the TOAST shape uses a tenth)
import pg from 'pg';
import { postgres } from './lib/harness.mjs';

const ROWS = Number(process.env.IDENTITY_WAL_ROWS ?? 100_000);
const BATCH = 1_000;

const wideColumns = [
  ...Array.from({ length: 9 }, (_, i) => `c${i + 1} bigint not null default ${1_000_000_007 * (i + 1)}`),
  ...Array.from({ length: 5 }, (_, i) => `t${i + 1} timestamptz not null default now() - interval '${i + 1} days'`),
  ...Array.from({ length: 13 }, (_, i) => `s${i + 1} text not null default md5('${i}') || 'abcdefghijklmnopqrstuvwx'`),
];

/** The three shapes: id, tenant and a counter that the UPDATE bumps, plus what makes them differ. */
const SHAPES = [
  { name: 'narrow', rows: ROWS, extra: ['title text not null'], fill: `'todo number ' || i` },
  { name: 'wide', rows: ROWS, extra: wideColumns, fill: null },
  {
    name: 'toast',
    rows: Math.max(BATCH, Math.floor(ROWS / 10)),
    extra: ['doc text not null'],
    // 8,192 hex digits from a hash chain: random enough that pglz does not compress them,
    // so the value is stored out of line (TOASTed) at its full size.
    fill: `(select string_agg(md5(i::text || '-' || k::text), '') from generate_series(1, 256) k)`,
  },
];

const CONFIGS = [
  { walLevel: 'replica', identity: 'default' },
  { walLevel: 'logical', identity: 'default' },
  { walLevel: 'logical', identity: 'full' },
  { walLevel: 'logical', identity: 'index' },
];

async function walBytes(db, work) {
  const before = (await db.query('select pg_current_wal_insert_lsn() as lsn')).rows[0].lsn;
  await work();
  const after = (await db.query('select pg_current_wal_insert_lsn() as lsn')).rows[0].lsn;
  return Number((await db.query('select pg_wal_lsn_diff($1, $2)::bigint as bytes', [after, before])).rows[0].bytes);
}

async function inBatches(db, rows, statement) {
  for (let first = 1; first <= rows; first += BATCH) await db.query(statement, [first, Math.min(rows, first + BATCH - 1)]);
}

async function measureShape(db, shape, identity) {
  await db.query('drop table if exists bench_identity');
  const columns = ['id bigint primary key', `org_id text not null`, 'n int not null default 0', ...shape.extra];
  await db.query(`create table bench_identity (${columns.join(', ')}) with (autovacuum_enabled = off)`);
  const fillColumn = shape.extra[0].split(' ')[0];
  await db.query(
    shape.fill
      ? `insert into bench_identity (id, org_id, ${fillColumn}) select i, 'org-' || (i % 100), ${shape.fill} from generate_series(1, $1) i`
      : `insert into bench_identity (id, org_id) select i, 'org-' || (i % 100) from generate_series(1, $1) i`,
    [shape.rows],
  );
  if (identity === 'full') await db.query('alter table bench_identity replica identity full');
  if (identity === 'index') {
    await db.query('create unique index bench_identity_tenant_key on bench_identity (org_id, id)');
    await db.query('alter table bench_identity replica identity using index bench_identity_tenant_key');
  }
  const size = (
    await db.query(
      // A whole-row value has its TOASTed values inlined: the row as FULL identity logs it.
      `select count(*) as columns, (select avg(pg_column_size(b.*))::int from bench_identity b) as row_bytes
       from pg_attribute where attrelid = 'bench_identity'::regclass and attnum > 0 and not attisdropped`,
    )
  ).rows[0];
  await db.query('checkpoint');
  const update = await walBytes(db, () => inBatches(db, shape.rows, 'update bench_identity set n = n + 1 where id between $1 and $2'));
  const del = await walBytes(db, () => inBatches(db, shape.rows, 'delete from bench_identity where id between $1 and $2'));
  await db.query('drop table bench_identity');
  return {
    shape: shape.name,
    columns: Number(size.columns),
    rowBytes: size.row_bytes,
    rows: shape.rows,
    identity,
    updateBytesPerRow: Math.round(update / shape.rows),
    deleteBytesPerRow: Math.round(del / shape.rows),
  };
}

const results = [];
let version;
for (const walLevel of ['replica', 'logical']) {
  const server = await postgres({ wal_level: walLevel, full_page_writes: 'off', autovacuum: 'off', max_wal_size: '20GB', checkpoint_timeout: '1h' });
  const db = new pg.Client({ connectionString: server.url });
  await db.connect();
  try {
    version = (await db.query('show server_version')).rows[0].server_version;
    for (const config of CONFIGS.filter((c) => c.walLevel === walLevel)) {
      for (const shape of SHAPES) results.push({ walLevel, ...(await measureShape(db, shape, config.identity)) });
    }
  } finally {
    await db.end();
    await server.close();
  }
}

console.log(JSON.stringify({ bench: 'identity-wal', postgres: version, batchRows: BATCH, fullPageWrites: false, results }));
const at = (shape, walLevel, identity) => results.find((r) => r.shape === shape && r.walLevel === walLevel && r.identity === identity);
const summary = SHAPES.map(({ name }) => {
  const base = at(name, 'logical', 'default');
  const full = at(name, 'logical', 'full');
  const index = at(name, 'logical', 'index');
  return (
    `${name} ${base.updateBytesPerRow}/${full.updateBytesPerRow}/${index.updateBytesPerRow} B per update, ` +
    `${base.deleteBytesPerRow}/${full.deleteBytesPerRow}/${index.deleteBytesPerRow} B per delete`
  );
});
console.log(`identity-wal (PostgreSQL ${version}, identity DEFAULT/FULL/(tenant, id) index): ${summary.join('; ')}`);
