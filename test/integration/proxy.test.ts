// The proxy configurations in deploy/ (nginx, Caddy) in front of two real walcast instances:
// events arrive at once and uncompressed, Last-Event-ID reaches walcast, streams spread over
// both instances and a closed one is closed upstream too, a silent stream outlives the
// proxies' default timeouts, HTTP/2 carries streams to clients, and clients of a stopped
// instance resume on the other one through the proxy with no gap and no duplicate.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../src/auth/jwt.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/log.js';
import { migrate } from '../../src/sql/migrate.js';
import { startWalcast, type RunningWalcast } from '../../src/walcast.js';
import { selfSignedCertificate } from '../support/tls.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { freePort } from '../support/net.js';
import { SseClient } from '../support/sse.js';
import { TEST_SECRET, waitUntilReady } from '../support/walcast.js';

const NGINX = process.env['WALCAST_NGINX'] ?? '/usr/sbin/nginx';
const CADDY = process.env['WALCAST_CADDY'] ?? '/usr/bin/caddy';
// CI installs both (.ci/run); elsewhere a missing one is skipped rather than failed.
const inCi = process.env['CI'] === 'true';
const withNginx = existsSync(NGINX) || inCi;
const withCaddy = existsSync(CADDY) || inCi;
const DEPLOY = path.resolve('deploy');
/** nginx's default proxy_read_timeout and send_timeout; Caddy has none on proxied responses. */
const PROXY_DEFAULT_TIMEOUT_MS = 60_000;

interface Proxy {
  readonly name: string;
  /** HTTP/1.1 without TLS (what the eventsource package speaks here). */
  readonly plainUrl: string;
  /** TLS with HTTP/2 (self-signed or Caddy's internal CA). */
  readonly tlsUrl: string;
  readonly process: ChildProcess;
  output: string;
}

let root: string;
let db: TestDatabase;
let a: RunningWalcast;
let b: RunningWalcast;
let token: string;
const proxies: Proxy[] = [];

function configFor(instance: string) {
  return loadConfig({
    DATABASE_URL: db.url,
    WALCAST_JWT_SECRET: TEST_SECRET,
    WALCAST_PORT: '0',
    WALCAST_INSTANCE: instance,
    LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'silent',
  });
}

/** A walcast whose keepalive comes only every 5 minutes, so a stream of a quiet table is silent. */
async function startInstance(instance: string): Promise<RunningWalcast> {
  const config = configFor(instance);
  const running = await startWalcast({ config, databaseUrl: db.url, log: createLogger(config.logLevel), host: '127.0.0.1', keepaliveMs: 300_000 });
  await waitUntilReady(running);
  return running;
}

/** `text` with `from` replaced, which must occur exactly once: a renamed line fails loudly. */
function replaceOnce(text: string, from: string, to: string): string {
  const parts = text.split(from);
  if (parts.length !== 2) throw new Error(`expected "${from}" exactly once in the shipped config, found it ${parts.length - 1} times`);
  return parts.join(to);
}

async function waitUntilServing(proxy: Proxy): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const answered = await fetch(`${proxy.plainUrl}/healthz`).then(
      (response) => response.ok,
      () => false,
    );
    if (answered) return;
    if (Date.now() > deadline || proxy.process.exitCode !== null) throw new Error(`${proxy.name} did not start:\n${proxy.output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function launch(name: string, command: string, args: string[], env: Record<string, string>, plainPort: number, tlsPort: number): Proxy {
  const child = spawn(command, args, { env: { PATH: process.env['PATH'] ?? '', ...env } });
  const proxy: Proxy = { name, plainUrl: `http://127.0.0.1:${plainPort}`, tlsUrl: `https://127.0.0.1:${tlsPort}`, process: child, output: '' };
  child.stdout?.on('data', (chunk: Buffer) => (proxy.output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (proxy.output += chunk.toString()));
  return proxy;
}

/** deploy/nginx/walcast.conf as shipped, but listening on free local ports in front of a and b. */
async function startNginx(): Promise<Proxy> {
  const dir = path.join(root, 'nginx');
  await mkdir(dir, { recursive: true });
  const [plainPort, tlsPort, redirectPort] = [await freePort(), await freePort(), await freePort()];
  let site = await readFile(path.join(DEPLOY, 'nginx/walcast.conf'), 'utf8');
  site = replaceOnce(site, 'server walcast-1:8080', `server 127.0.0.1:${a.port}`);
  site = replaceOnce(site, 'server walcast-2:8080', `server 127.0.0.1:${b.port}`);
  site = replaceOnce(site, 'listen 443 ssl http2;', `listen 127.0.0.1:${tlsPort} ssl http2;\n    listen 127.0.0.1:${plainPort};`);
  site = replaceOnce(site, 'listen 80;', `listen 127.0.0.1:${redirectPort};`);
  site = replaceOnce(site, '/etc/nginx/tls/tls.crt', path.join(root, 'tls.crt'));
  site = replaceOnce(site, '/etc/nginx/tls/tls.key', path.join(root, 'tls.key'));
  site = replaceOnce(site, 'include /etc/nginx/walcast-proxy.conf;', `include ${path.join(DEPLOY, 'nginx/walcast-proxy.conf')};`);
  await writeFile(path.join(dir, 'walcast.conf'), site);
  // The main context an operator already has, with a global gzip that would cover event
  // streams: the shipped routes must keep the stream uncompressed anyway.
  await writeFile(
    path.join(dir, 'nginx.conf'),
    `daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log stderr warn;
events {}
http {
    access_log off;
    client_body_temp_path ${dir}/body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
    gzip on;
    gzip_min_length 1;
    gzip_types text/event-stream application/json;
    include ${dir}/walcast.conf;
}
`,
  );
  const proxy = launch('nginx', NGINX, ['-p', dir, '-e', 'stderr', '-c', path.join(dir, 'nginx.conf')], {}, plainPort, tlsPort);
  await waitUntilServing(proxy);
  return proxy;
}

/** deploy/caddy/Caddyfile as shipped, its site and upstreams given through its variables. */
async function startCaddy(): Promise<Proxy> {
  const dir = path.join(root, 'caddy');
  await mkdir(dir, { recursive: true });
  const [plainPort, tlsPort, httpPort] = [await freePort(), await freePort(), await freePort()];
  const shipped = await readFile(path.join(DEPLOY, 'caddy/Caddyfile'), 'utf8');
  // Local-only additions to the shipped global options: no admin endpoint, no system trust
  // store, no port 80, state in the test's directory.
  const local = replaceOnce(
    shipped,
    '\tgrace_period 10s\n',
    `\tgrace_period 10s\n\tadmin off\n\tskip_install_trust\n\tauto_https disable_redirects\n\thttp_port ${httpPort}\n\tstorage file_system ${dir}/data\n`,
  );
  await writeFile(path.join(dir, 'Caddyfile'), local);
  const env = {
    HOME: dir,
    XDG_CONFIG_HOME: `${dir}/config`,
    XDG_DATA_HOME: `${dir}/data`,
    WALCAST_SITE: `https://127.0.0.1:${tlsPort}, http://127.0.0.1:${plainPort}`,
    WALCAST_UPSTREAMS: `127.0.0.1:${a.port} 127.0.0.1:${b.port}`,
  };
  const proxy = launch('Caddy', CADDY, ['run', '--config', path.join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], env, plainPort, tlsPort);
  await waitUntilServing(proxy);
  return proxy;
}

/** A graceful stop, cut short after 15 s (Caddy gives open connections 10 s). */
async function stop(proxy: Proxy): Promise<void> {
  if (proxy.process.exitCode !== null || proxy.process.signalCode !== null) return;
  const exited = new Promise((resolve) => proxy.process.once('exit', resolve));
  proxy.process.kill('SIGTERM');
  const killer = setTimeout(() => proxy.process.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(killer);
}

const streamQuery = (table: string) => `/v1/stream?${new URLSearchParams({ access_token: token, tables: table }).toString()}`;

async function insert(table: string, ...titles: string[]): Promise<void> {
  for (const title of titles) await db.sql.query(`insert into ${table} (org_id, title) values ('acme', $1)`, [title]);
}

const titleOf = (message: { data: Record<string, unknown> }) => (message.data['row'] as { title: string }).title;

async function openStreams(instance: RunningWalcast): Promise<number> {
  const text = await (await fetch(`${instance.url}/metrics`)).text();
  return Number(/^walcast_clients (\d+)/m.exec(text)?.[1]);
}

async function until(what: string, predicate: () => Promise<boolean>, timeout = 5_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeout} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Response headers of a stream opened over HTTP/1.1 by a client that accepts compression. */
async function streamHeaders(proxy: Proxy, table: string): Promise<http.IncomingHttpHeaders> {
  return new Promise((resolve, reject) => {
    const request = http.get(`${proxy.plainUrl}${streamQuery(table)}`, { headers: { 'accept-encoding': 'gzip, deflate, br, zstd' } }, (response) => {
      resolve(response.headers);
      response.destroy();
    });
    request.on('error', reject);
  });
}

beforeAll(async () => {
  if (!withNginx && !withCaddy) return;
  root = await mkdtemp(path.join(tmpdir(), 'walcast-proxy-'));
  await chmod(root, 0o755);
  await selfSignedCertificate({ key: path.join(root, 'tls.key'), cert: path.join(root, 'tls.crt') });
  db = await createTestDatabase('proxy');
  await migrate(db.url);
  await db.sql.query(`create table items (id serial primary key, org_id text not null, title text not null);
                      create table quiet (id serial primary key, org_id text not null, title text not null);
                      select walcast.expose('items', tenant_column => 'org_id');
                      select walcast.expose('quiet', tenant_column => 'org_id');`);
  a = await startInstance('proxy_a');
  b = await startInstance('proxy_b');
  token = await signToken(TEST_SECRET, { tenant: 'acme', sub: 'proxy-user', ttlSeconds: 3600, tenantClaim: configFor('proxy_a').tenantClaim });
  if (withNginx) proxies.push(await startNginx());
  if (withCaddy) proxies.push(await startCaddy());
});

afterAll(async () => {
  for (const proxy of proxies) await stop(proxy);
  await a?.close();
  await b?.close();
  await db?.drop();
  if (root) await rm(root, { recursive: true, force: true });
});

describe.skipIf(!withNginx && !withCaddy)('deploy/ proxy configurations in front of two walcast instances', () => {
  // Opened first, read last: nothing is written to `quiet` until the proxies' default
  // timeouts have passed, and walcast's keepalive is 5 minutes here, so nothing at all
  // crosses these connections meanwhile.
  const quiet = new Map<string, SseClient>();
  let quietSince = 0;
  beforeAll(async () => {
    for (const proxy of proxies) quiet.set(proxy.name, await SseClient.open(`${proxy.plainUrl}${streamQuery('quiet')}`));
    quietSince = Date.now();
  });
  afterAll(() => {
    for (const client of quiet.values()) client.close();
  });

  it('delivers an insert at once, as an uncompressed event stream, and resumes from Last-Event-ID', async () => {
    for (const proxy of proxies) {
      const headers = await streamHeaders(proxy, 'items');
      expect(headers['content-type'], proxy.name).toMatch(/^text\/event-stream/);
      expect(headers['content-encoding'], proxy.name).toBeUndefined();

      const stream = await SseClient.open(`${proxy.plainUrl}${streamQuery('items')}`);
      await insert('items', `${proxy.name} first`);
      const first = await stream.next();
      expect(titleOf(first), proxy.name).toBe(`${proxy.name} first`);
      stream.close();

      await insert('items', `${proxy.name} second`, `${proxy.name} third`);
      const resumed = await SseClient.open(`${proxy.plainUrl}${streamQuery('items')}`, { 'Last-Event-ID': first.id });
      expect((await resumed.take(2)).map(titleOf), proxy.name).toEqual([`${proxy.name} second`, `${proxy.name} third`]);
      resumed.close();
    }
  });

  it('spreads streams over both instances with no stickiness, and a stream the client closes ends on walcast too', async () => {
    for (const proxy of proxies) {
      // Only the quiet streams are open now, once the earlier tests' closes have reached walcast.
      await until('earlier streams closed upstream', async () => (await openStreams(a)) + (await openStreams(b)) === quiet.size);
      const before = [await openStreams(a), await openStreams(b)] as const;
      const streams: SseClient[] = [];
      for (let i = 0; i < 4; i++) streams.push(await SseClient.open(`${proxy.plainUrl}${streamQuery('items')}`));
      await until(`${proxy.name}: four streams open upstream`, async () => (await openStreams(a)) + (await openStreams(b)) === before[0] + before[1] + 4);
      expect(await openStreams(a), `${proxy.name} sent none to a`).toBeGreaterThan(before[0]);
      expect(await openStreams(b), `${proxy.name} sent none to b`).toBeGreaterThan(before[1]);
      for (const stream of streams) stream.close();
      await until(`${proxy.name}: closed streams closed upstream`, async () => (await openStreams(a)) === before[0] && (await openStreams(b)) === before[1]);
    }
  });

  it('keeps /metrics to the instances', async () => {
    for (const proxy of proxies) expect((await fetch(`${proxy.plainUrl}/metrics`)).status, proxy.name).toBe(404);
  });

  it('carries several streams over one HTTP/2 connection with TLS', async () => {
    for (const proxy of proxies) {
      const session = http2.connect(proxy.tlsUrl, { rejectUnauthorized: false });
      try {
        await new Promise<void>((resolve, reject) => session.once('connect', () => resolve()).once('error', reject));
        expect(session.alpnProtocol, proxy.name).toBe('h2');
        const received = [[], []] as EventSourceMessage[][];
        const statuses = await Promise.all(
          received.map(
            (messages) =>
              new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
                const request = session.request({ ':path': streamQuery('items'), 'accept-encoding': 'gzip, br' });
                const parser = createParser({ onEvent: (message) => messages.push(message) });
                request.setEncoding('utf8');
                request.on('data', (chunk: string) => parser.feed(chunk));
                request.once('response', resolve).once('error', reject);
              }),
          ),
        );
        for (const headers of statuses) {
          expect(headers[':status'], proxy.name).toBe(200);
          expect(headers['content-encoding'], proxy.name).toBeUndefined();
        }
        await insert('items', `${proxy.name} over h2`);
        const deadline = Date.now() + 5_000;
        while (received.some((messages) => messages.length === 0) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
        for (const messages of received)
          expect(
            messages.map((message) => JSON.parse(message.data).row.title),
            proxy.name,
          ).toEqual([`${proxy.name} over h2`]);
      } finally {
        session.destroy();
      }
    }
  });

  it(
    "keeps a silent stream open past the proxies' default timeouts, on the same connection",
    async () => {
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, quietSince + PROXY_DEFAULT_TIMEOUT_MS + 2_000 - Date.now())));
      await insert('quiet', 'after a minute of silence');
      for (const proxy of proxies) {
        const client = quiet.get(proxy.name)!;
        expect(titleOf(await client.next()), proxy.name).toBe('after a minute of silence');
        expect(client.connections, `${proxy.name} reconnected: the proxy had closed the stream`).toBe(1);
      }
    },
    PROXY_DEFAULT_TIMEOUT_MS + 30_000,
  );

  it('moves the clients of a stopped instance to the other one, which resumes them with no gap and no duplicate', async () => {
    const clients = new Map<string, SseClient[]>();
    for (const proxy of proxies) {
      const streams: SseClient[] = [];
      for (let i = 0; i < 4; i++) streams.push(await SseClient.open(`${proxy.plainUrl}${streamQuery('items')}`));
      clients.set(proxy.name, streams);
    }
    await insert('items', 'before the stop');
    for (const streams of clients.values()) for (const stream of streams) expect(titleOf(await stream.next())).toBe('before the stop');

    await a.close();
    await insert('items', 'while moving 1', 'while moving 2');
    for (const [name, streams] of clients) {
      for (const stream of streams) {
        expect((await stream.take(2, 10_000)).map(titleOf), name).toEqual(['while moving 1', 'while moving 2']);
      }
    }
    // Had a resumed stream been sent an event twice, the duplicate would come before this.
    await insert('items', 'after the move');
    for (const [name, streams] of clients) for (const stream of streams) expect(titleOf(await stream.next()), name).toBe('after the move');
    // Every one of these streams is on b now, those that started there and those that moved
    // (the quiet streams may still be waiting out their retry: they are not counted on).
    expect(await openStreams(b)).toBeGreaterThanOrEqual(proxies.length * 4);
    for (const streams of clients.values()) for (const stream of streams) stream.close();
  }, 30_000);
});
