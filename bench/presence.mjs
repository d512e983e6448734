// Presence bench: a heartbeat POSTed to instance A until the `join` arrives on an
// EventSource of instance B, through the WAL (issue 6 goal: within 100 ms here).
// Two walcast processes, one embedded Postgres; the client runs in this process.
// Usage: npm run build && npm run bench -- presence
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EventSource } from 'eventsource';
import { signToken } from '../dist/auth/jwt.js';
import { startPostgres } from '../dist/embedded/postgres-server.js';
import { createLogger } from '../dist/log.js';
import { migrate } from '../dist/sql/migrate.js';

const SAMPLES = 200;
const SECRET = 'bench-secret-that-is-long-enough-for-hs256';

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function serve(url, instance) {
  const port = await freePort();
  const child = spawn(process.execPath, ['dist/cli/main.js', 'serve'], {
    env: { ...process.env, DATABASE_URL: url, WALCAST_JWT_SECRET: SECRET, WALCAST_PORT: String(port), WALCAST_INSTANCE: instance, WALCAST_PRESENCE_RATE: '100000', LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  const base = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 30_000; ; ) {
    if ((await fetch(`${base}/readyz`).then((r) => r.status, () => 0)) === 200) return { child, base };
    if (Date.now() > deadline) throw new Error(`${instance} not ready`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

const root = mkdtempSync(path.join(tmpdir(), 'walcast-bench-'));
chmodSync(root, 0o755);
// WALCAST_BENCH_PG_BIN: another Postgres (e.g. /usr/lib/postgresql/15/bin) instead of the embedded one.
const server = await startPostgres({ dataDir: path.join(root, 'pgdata'), binDir: process.env.WALCAST_BENCH_PG_BIN || undefined, settings: { wal_level: 'logical' }, log: createLogger('warn') });
const instances = [];
try {
  await migrate(server.url);
  instances.push(await serve(server.url, 'a'), await serve(server.url, 'b'));
  const [a, b] = instances;
  const token = await signToken(SECRET, { tenant: 'acme', sub: 'watcher', ttlSeconds: 3600, tenantClaim: 'tenant_id' });
  const source = new EventSource(`${b.base}/v1/stream?rooms=bench&access_token=${token}`);
  const joins = new Map();
  source.addEventListener('presence', (event) => {
    const data = JSON.parse(event.data);
    if (data.op === 'join') joins.get(data.member.user)?.(performance.now());
  });
  await new Promise((resolve) => source.addEventListener('open', resolve, { once: true }));

  const latencies = [];
  for (let i = 0; i < SAMPLES; i++) {
    const user = `user-${i}`;
    const userToken = await signToken(SECRET, { tenant: 'acme', sub: user, ttlSeconds: 3600, tenantClaim: 'tenant_id' });
    const joined = new Promise((resolve) => joins.set(user, resolve));
    const sent = performance.now();
    await fetch(`${a.base}/v1/presence`, {
      method: 'POST',
      headers: { authorization: `Bearer ${userToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ room: 'bench', state: { i } }),
    });
    latencies.push((await joined) - sent);
  }
  source.close();
  latencies.sort((x, y) => x - y);
  const round = (ms) => Math.round(ms * 10) / 10;
  const result = { bench: 'presence', samples: SAMPLES, p50Ms: round(percentile(latencies, 50)), p99Ms: round(percentile(latencies, 99)), maxMs: round(latencies.at(-1)) };
  console.log(JSON.stringify(result));
  console.log(`presence: heartbeat on A → join on B's stream: p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, max ${result.maxMs} ms (${SAMPLES} heartbeats)`);
} finally {
  for (const { child } of instances) child.kill('SIGTERM');
  await Promise.all(instances.map(({ child }) => new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve()))));
  await server.stop();
  rmSync(root, { recursive: true, force: true });
}
