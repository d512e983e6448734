// Decode bench: a burst of 300,000 committed rows (300 transactions of 1,000) drained
// from a slot, walcast's full decode (pgoutput → typed, tenant-routed events in the
// retention log) against a baseline that drains the same WAL doing nothing (Postgres's
// own pg_recvlogical where installed, else the bare replication library), in one run.
// Walcast runs in this process; Postgres in its own.
// Usage: npm run build && npm run bench -- decode
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import pgLogical from 'pg-logical-replication';
import { loadConfig } from '../dist/config/config.js';
import { createLogger } from '../dist/log.js';
import { startWalcast } from '../dist/walcast.js';
import { postgres, SECRET } from './lib/harness.mjs';

const ROWS = 300_000;
const PER_TXN = 1_000;
const run = promisify(execFile);
const PG_RECVLOGICAL = ['/usr/lib/postgresql/15/bin/pg_recvlogical', process.env.WALCAST_PG_RECVLOGICAL].find((file) => file && existsSync(file));

/** Drains the baseline slot up to `end`, doing nothing with what it gets; returns seconds. */
async function baseline(url, end) {
  const started = performance.now();
  if (PG_RECVLOGICAL) {
    const { hostname, port } = new URL(url);
    await run(PG_RECVLOGICAL, ['-h', hostname, '-p', port, '-U', 'postgres', '-d', 'postgres', '--slot', 'bench_baseline', '--start',
      '-o', 'proto_version=1', '-o', 'publication_names=walcast', '-E', end, '-f', '/dev/null', '--no-loop']);
  } else {
    const service = new pgLogical.LogicalReplicationService({ connectionString: url }, { acknowledge: { auto: false, timeoutSeconds: 0 } });
    const plugin = new pgLogical.PgoutputPlugin({ protoVersion: 1, publicationNames: ['walcast'] });
    await new Promise((resolve, reject) => {
      service.on('data', (lsn, message) => {
        if (message.tag === 'commit' && message.commitEndLsn && compare(message.commitEndLsn, end) >= 0) resolve();
      });
      service.subscribe(plugin, 'bench_baseline').catch(reject);
    });
    await service.stop();
  }
  return (performance.now() - started) / 1000;
}

function compare(a, b) {
  const n = (lsn) => { const [hi, lo] = lsn.split('/'); return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`); };
  return n(a) < n(b) ? -1 : n(a) > n(b) ? 1 : 0;
}

const db = await postgres({ max_wal_size: '4GB' });
try {
  const url = db.url;
  await db.sql(`create table burst (id bigserial primary key, org_id text not null, n int, note text, at timestamptz default now());
                    select walcast.expose('burst', tenant_column => 'org_id');`);
  const config = loadConfig({ DATABASE_URL: url, WALCAST_JWT_SECRET: SECRET, WALCAST_PORT: '0', WALCAST_INSTANCE: 'bench', LOG_LEVEL: 'warn',
    WALCAST_RETAIN_EVENTS: String(ROWS * 2), WALCAST_RETAIN_BYTES: String(2 ** 31), WALCAST_RETAIN_WAL_BYTES: String(2 ** 40) });
  // Both slots exist before the burst: both start behind the same WAL.
  let walcast = await startWalcast({ config, databaseUrl: url, log: createLogger('warn') });
  await walcast.close();
  await db.sql(`select pg_create_logical_replication_slot('bench_baseline', 'pgoutput')`);
  for (let i = 0; i < ROWS / PER_TXN; i++) {
    await db.sql(`insert into burst (org_id, n, note) select 'tenant-' || (g % 10), g, 'row ' || g from generate_series(1, ${PER_TXN}) g`);
  }
  const end = (await db.sql('select pg_current_wal_lsn()::text as lsn')).rows[0].lsn;

  const baselineSeconds = await baseline(url, end);
  const started = performance.now();
  walcast = await startWalcast({ config, databaseUrl: url, log: createLogger('warn') });
  // What an operator sees: /readyz says when it streams, /metrics how many events it retains.
  let streaming;
  for (;;) {
    if (streaming === undefined && (await (await fetch(`${walcast.url}/readyz`)).json()).replication === 'streaming') streaming = performance.now();
    const metrics = await (await fetch(`${walcast.url}/metrics`)).text();
    if (Number(/^walcast_retained_events (\d+)/m.exec(metrics)?.[1] ?? 0) >= ROWS) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const done = performance.now();
  const walcastSeconds = (done - started) / 1000;
  const decodeSeconds = (done - (streaming ?? started)) / 1000;
  await walcast.close();

  const baselineRate = Math.round(ROWS / baselineSeconds);
  const walcastRate = Math.round(ROWS / walcastSeconds);
  const streamingRate = Math.round(ROWS / decodeSeconds);
  const result = {
    bench: 'decode',
    rows: ROWS,
    transactions: ROWS / PER_TXN,
    baseline: PG_RECVLOGICAL ? 'pg_recvlogical (pgoutput) to /dev/null' : 'pg-logical-replication, no work',
    baselineRowsPerSecond: baselineRate,
    walcastRowsPerSecond: walcastRate,
    walcastRowsPerSecondOnceStreaming: streamingRate,
    ratio: Math.round((walcastRate / baselineRate) * 100) / 100,
    ratioOnceStreaming: Math.round((streamingRate / baselineRate) * 100) / 100,
  };
  console.log(JSON.stringify(result));
  console.log(`decode: walcast ${walcastRate} rows/s from start (${streamingRate} once streaming), baseline ${baselineRate} rows/s (${result.baseline}): ratio ${result.ratio} (${result.ratioOnceStreaming})`);
} finally {
  await db.close();
}
