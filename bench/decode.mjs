// Decode bench: a burst of 300,000 committed rows (300 transactions of 1,000) drained
// from a slot, walcast's full decode (pgoutput → typed, tenant-routed events in the
// retention log) against a baseline that drains the same WAL doing nothing (Postgres's
// own pg_recvlogical where installed, else the bare replication library), in one run.
// Walcast runs in this process; Postgres in its own.
// BENCH_COLUMNS=3|10|30: rows that wide (id, org_id, then ints and short texts), for the
// decode rate against row width. BENCH_LIVE=1: walcast streams while the burst is
// written, and the figure is when its last event is in, against when Postgres finished
// writing (issue 20: ≤ 1.15×).
// Usage: npm run build && npm run bench -- decode
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import pgLogical from 'pg-logical-replication';
import { loadConfig } from '../dist/config/config.js';
import { createLogger } from '../dist/log.js';
import { startWalcast } from '../dist/walcast.js';
import { postgres, SECRET, swarm, tokens, walcastProcess } from './lib/harness.mjs';

const ROWS = 300_000;
const PER_TXN = 1_000;
const COLUMNS = process.env.BENCH_COLUMNS === undefined ? undefined : Number(process.env.BENCH_COLUMNS);
const LIVE = process.env.BENCH_LIVE === '1';
const TENANTS = Array.from({ length: 10 }, (_, i) => `tenant-${i}`);

/** The burst's table: as 0.1 had it (5 columns), or COLUMNS wide. */
function burstTable() {
  if (COLUMNS === undefined) {
    return {
      create: 'create table burst (id bigserial primary key, org_id text not null, n int, note text, at timestamptz default now())',
      insert: (count) => `insert into burst (org_id, n, note) select 'tenant-' || (g % 10), g, 'row ' || g from generate_series(1, ${count}) g`,
    };
  }
  const extra = Array.from({ length: COLUMNS - 2 }, (_, i) => ({
    name: `c${i}`,
    type: i % 2 === 0 ? 'int' : 'text',
    value: i % 2 === 0 ? `g + ${i}` : `'v' || g`,
  }));
  return {
    create: `create table burst (id bigserial primary key, org_id text not null${extra.map((column) => `, ${column.name} ${column.type}`).join('')})`,
    insert: (count) =>
      `insert into burst (org_id${extra.map((column) => `, ${column.name}`).join('')}) select 'tenant-' || (g % 10)${extra.map((column) => `, ${column.value}`).join('')} from generate_series(1, ${count}) g`,
  };
}

/** Jiffies the machine's cores spent busy and in all, from /proc/stat. */
function machineCpu() {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  const values = fields.map(Number);
  const idle = values[3] + values[4];
  const total = values.reduce((sum, value) => sum + value, 0);
  return { busy: total - idle, total };
}

/** Seconds until walcast retains `rows` events, polling its metrics; and when /readyz first said streaming. */
async function retained(walcast, rows, started) {
  let streaming;
  for (;;) {
    if (streaming === undefined && (await (await fetch(`${walcast.url}/readyz`)).json()).replication === 'streaming') streaming = performance.now();
    const metrics = await (await fetch(`${walcast.url}/metrics`)).text();
    if (Number(/^walcast_retained_events (\d+)/m.exec(metrics)?.[1] ?? 0) >= rows) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { done: performance.now(), streaming: streaming ?? started };
}
const run = promisify(execFile);
const PG_RECVLOGICAL = ['/usr/lib/postgresql/15/bin/pg_recvlogical', process.env.WALCAST_PG_RECVLOGICAL].find((file) => file && existsSync(file));

/** Drains the baseline slot up to `end`, doing nothing with what it gets; returns seconds. */
async function baseline(url, end) {
  const started = performance.now();
  if (PG_RECVLOGICAL) {
    const { hostname, port } = new URL(url);
    await run(PG_RECVLOGICAL, [
      '-h',
      hostname,
      '-p',
      port,
      '-U',
      'postgres',
      '-d',
      'postgres',
      '--slot',
      'bench_baseline',
      '--start',
      '-o',
      'proto_version=1',
      '-o',
      'publication_names=walcast',
      '-E',
      end,
      '-f',
      '/dev/null',
      '--no-loop',
    ]);
  } else {
    const service = new pgLogical.LogicalReplicationService({ connectionString: url }, { acknowledge: { auto: false, timeoutSeconds: 0 } });
    const plugin = new pgLogical.PgoutputPlugin({ protoVersion: 1, publicationNames: ['walcast'] });
    await new Promise((resolve, reject) => {
      service.on('data', (_lsn, message) => {
        if (message.tag === 'commit' && message.commitEndLsn && compare(message.commitEndLsn, end) >= 0) resolve();
      });
      service.subscribe(plugin, 'bench_baseline').catch(reject);
    });
    await service.stop();
  }
  return (performance.now() - started) / 1000;
}

function compare(a, b) {
  const n = (lsn) => {
    const [hi, lo] = lsn.split('/');
    return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
  };
  return n(a) < n(b) ? -1 : n(a) > n(b) ? 1 : 0;
}

const db = await postgres({ max_wal_size: '4GB' });
try {
  const url = db.url;
  const table = burstTable();
  await db.sql(`${table.create}; select walcast.expose('burst', tenant_column => 'org_id');`);
  const config = loadConfig({
    DATABASE_URL: url,
    WALCAST_JWT_SECRET: SECRET,
    WALCAST_PORT: '0',
    WALCAST_INSTANCE: 'bench',
    LOG_LEVEL: 'warn',
    WALCAST_RETAIN_EVENTS: String(ROWS * 2),
    WALCAST_RETAIN_BYTES: String(2 ** 31),
    WALCAST_RETAIN_WAL_BYTES: String(2 ** 40),
  });
  const writeBurst = async () => {
    for (let i = 0; i < ROWS / PER_TXN; i++) await db.sql(table.insert(PER_TXN));
  };
  if (LIVE) {
    // As deployed: walcast in its own process, one stream per tenant in a swarm process
    // reading every event; done when walcast has written the last one to its stream.
    // Its default retention window: what an instance keeps in production.
    const walcast = await walcastProcess(url);
    const clients = await swarm({ base: walcast.base, tokens: await tokens(TENANTS), streams: TENANTS.length, query: 'tables=burst' });
    try {
      const machineBefore = machineCpu();
      const walcastBefore = walcast.cpuSeconds();
      const started = performance.now();
      await writeBurst();
      const written = performance.now();
      while ((await walcast.metric('walcast_events_sent_total')) < ROWS) await new Promise((resolve) => setTimeout(resolve, 10));
      const done = performance.now();
      const machineAfter = machineCpu();
      const walcastCpuSeconds = Math.round((walcast.cpuSeconds() - walcastBefore) * 100) / 100;
      // How busy the machine's cores were over the run: near 1, the gap is CPU it does not have.
      const machineBusy = Math.round(((machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total)) * 100) / 100;
      const { events } = await clients.report();
      const writeSeconds = (written - started) / 1000;
      const lastEventSeconds = (done - started) / 1000;
      const result = {
        bench: 'decode-live',
        rows: ROWS,
        columns: COLUMNS ?? 5,
        transactions: ROWS / PER_TXN,
        writeSeconds: Math.round(writeSeconds * 100) / 100,
        lastEventSeconds: Math.round(lastEventSeconds * 100) / 100,
        ratio: Math.round((lastEventSeconds / writeSeconds) * 100) / 100,
        clientsReceived: events,
        walcastCpuSeconds,
        machineBusy,
      };
      console.log(JSON.stringify(result));
      console.log(
        `decode-live: ${ROWS} rows written in ${result.writeSeconds} s, walcast's last event sent at ${result.lastEventSeconds} s: ${result.ratio}× the write (clients received ${events}); walcast used ${walcastCpuSeconds} s of CPU, the machine's cores were ${Math.round(machineBusy * 100)}% busy`,
      );
    } finally {
      await clients.stop();
      await walcast.stop();
    }
  } else {
    // Both slots exist before the burst: both start behind the same WAL.
    let walcast = await startWalcast({ config, databaseUrl: url, log: createLogger('warn') });
    await walcast.close();
    await db.sql(`select pg_create_logical_replication_slot('bench_baseline', 'pgoutput')`);
    await writeBurst();
    const end = (await db.sql('select pg_current_wal_lsn()::text as lsn')).rows[0].lsn;

    const baselineSeconds = await baseline(url, end);
    const started = performance.now();
    walcast = await startWalcast({ config, databaseUrl: url, log: createLogger('warn') });
    // What an operator sees: /readyz says when it streams, /metrics how many events it retains.
    const { done, streaming } = await retained(walcast, ROWS, started);
    const walcastSeconds = (done - started) / 1000;
    const decodeSeconds = (done - streaming) / 1000;
    await walcast.close();

    const baselineRate = Math.round(ROWS / baselineSeconds);
    const walcastRate = Math.round(ROWS / walcastSeconds);
    const streamingRate = Math.round(ROWS / decodeSeconds);
    const result = {
      bench: 'decode',
      rows: ROWS,
      columns: COLUMNS ?? 5,
      transactions: ROWS / PER_TXN,
      baseline: PG_RECVLOGICAL ? 'pg_recvlogical (pgoutput) to /dev/null' : 'pg-logical-replication, no work',
      baselineRowsPerSecond: baselineRate,
      walcastRowsPerSecond: walcastRate,
      walcastRowsPerSecondOnceStreaming: streamingRate,
      ratio: Math.round((walcastRate / baselineRate) * 100) / 100,
      ratioOnceStreaming: Math.round((streamingRate / baselineRate) * 100) / 100,
    };
    console.log(JSON.stringify(result));
    console.log(
      `decode: ${result.columns} columns, walcast ${walcastRate} rows/s from start (${streamingRate} once streaming), baseline ${baselineRate} rows/s (${result.baseline}): ratio ${result.ratio} (${result.ratioOnceStreaming})`,
    );
  }
} finally {
  await db.close();
}
