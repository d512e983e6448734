// Shared by the benches: an embedded Postgres, walcast processes, client swarms, stats.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT } from 'jose';
import pg from 'pg';
import { signToken } from '../../dist/auth/jwt.js';
import { startPostgres } from '../../dist/embedded/postgres-server.js';
import { createLogger } from '../../dist/log.js';
import { migrate } from '../../dist/sql/migrate.js';

export const SECRET = 'bench-secret-that-is-long-enough-for-hs256';

export async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** An embedded Postgres (or WALCAST_BENCH_PG_BIN's) with the walcast schema; `close()` removes it. */
export async function postgres(settings = {}) {
  const root = mkdtempSync(path.join(tmpdir(), 'walcast-bench-'));
  chmodSync(root, 0o755);
  const server = await startPostgres({
    dataDir: path.join(root, 'pgdata'),
    binDir: process.env.WALCAST_BENCH_PG_BIN || undefined,
    settings: { wal_level: 'logical', max_connections: '200', ...settings },
    log: createLogger('warn'),
  });
  await migrate(server.url);
  return {
    url: server.url,
    async sql(text, values) {
      const client = new pg.Client({ connectionString: server.url });
      await client.connect();
      try {
        return await client.query(text, values);
      } finally {
        await client.end();
      }
    },
    async close() {
      await server.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/**
 * `walcast serve` as a process of its own, ready. BENCH_WALCAST_NODE_ARGS adds node flags,
 * e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile what a bench makes walcast do.
 */
export async function walcastProcess(url, env = {}) {
  const port = await freePort();
  const nodeArgs = process.env.BENCH_WALCAST_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, 'dist/cli/main.js', 'serve'], {
    // A swarm's clients share a few tokens: the per-user and per-tenant limits are not under test.
    env: {
      ...process.env,
      DATABASE_URL: url,
      WALCAST_JWT_SECRET: SECRET,
      WALCAST_PORT: String(port),
      WALCAST_INSTANCE: 'bench',
      LOG_LEVEL: 'warn',
      WALCAST_MAX_CLIENTS: '1000000',
      WALCAST_MAX_CLIENTS_PER_TENANT: '1000000',
      WALCAST_MAX_CLIENTS_PER_USER: '1000000',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  child.on('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGTERM') console.error(`walcast exited: ${code ?? signal}`);
  });
  const base = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 30_000; ; ) {
    if (
      (await fetch(`${base}/readyz`).then(
        (r) => r.status,
        () => 0,
      )) === 200
    )
      break;
    if (Date.now() > deadline) throw new Error('walcast not ready');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    base,
    port,
    rssMiB: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]) / 1024,
    alive: () => child.exitCode === null && child.signalCode === null,
    /** CPU seconds (user + system) the process has used so far (Linux clock ticks of 10 ms). */
    cpuSeconds: () => {
      const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100;
    },
    metric: async (name) => Number(new RegExp(`^${name} ([\\d.e+]+)`, 'm').exec(await (await fetch(`${base}/metrics`)).text())?.[1] ?? NaN),
    /** SIGTERM; resolves with the exit code. */
    async stop() {
      child.kill('SIGTERM');
      return new Promise((resolve) => (child.exitCode === null ? child.once('exit', (code) => resolve(code)) : resolve(child.exitCode)));
    },
  };
}

/** One token per user (`sub`) of one tenant, with extra claims. */
export function userTokens(tenant, subs, claims = {}) {
  return Promise.all(
    subs.map((sub) =>
      new SignJWT({ tenant_id: tenant, ...claims })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(sub)
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode(SECRET)),
    ),
  );
}

export function tokens(tenants) {
  return Promise.all(tenants.map((tenant) => signToken(SECRET, { tenant, sub: `bench-${tenant}`, ttlSeconds: 3600, tenantClaim: 'tenant_id' })));
}

/** A swarm of SSE clients over `processes` processes of its own (default 1), merged. */
export async function swarm({ processes = 1, streams, ...options }) {
  const parts = await Promise.all(
    Array.from({ length: processes }, (_, i) => swarmProcess({ ...options, streams: Math.floor(streams / processes) + (i < streams % processes ? 1 : 0) })),
  );
  const sum = (reports, field) => reports.reduce((total, report) => total + report[field], 0);
  const merge = (reports) => ({
    latenciesMs: reports.flatMap((report) => report.latenciesMs),
    movesMs: reports.flatMap((report) => report.movesMs),
    events: sum(reports, 'events'),
    closed: sum(reports, 'closed'),
    resets: sum(reports, 'resets'),
    duplicates: sum(reports, 'duplicates'),
  });
  return {
    opened: { opened: parts.reduce((sum, part) => sum + part.opened.opened, 0), connectMs: parts.flatMap((part) => part.opened.connectMs) },
    report: async () => merge(await Promise.all(parts.map((part) => part.report()))),
    stop: () => Promise.all(parts.map((part) => part.stop())),
  };
}

async function swarmProcess(options) {
  const settings = path.join(mkdtempSync(path.join(tmpdir(), 'walcast-swarm-')), 'swarm.json');
  writeFileSync(settings, JSON.stringify({ batch: 200, ...options }));
  const child = spawn(process.execPath, [new URL('./swarm.mjs', import.meta.url).pathname, settings], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = [];
  let waiting;
  let buffer = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    buffer += chunk;
    let end;
    while ((end = buffer.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buffer.slice(0, end)));
      buffer = buffer.slice(end + 1);
      waiting?.();
    }
  });
  const next = async () => {
    while (lines.length === 0) await new Promise((resolve) => (waiting = resolve));
    return lines.shift();
  };
  const opened = await next();
  return {
    opened,
    async report() {
      child.stdin.write('report\n');
      return next();
    },
    async stop() {
      child.stdin.write('exit\n');
      await new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve()));
    },
  };
}

export function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
  const round = (x) => Math.round(x * 10) / 10;
  return { count: sorted.length, p50: round(at(50)), p99: round(at(99)), max: round(sorted.at(-1) ?? NaN) };
}
