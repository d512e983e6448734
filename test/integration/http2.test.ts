// WALCAST_TLS_CERT / WALCAST_TLS_KEY (DESIGN §8, §11): HTTPS with HTTP/2, and HTTP/1.1 for
// clients without it, streams and every route included. A self-signed certificate made
// for the test; Node's HTTP/2 client, an HTTP/1.1 client, and Chromium.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { connect as http2Connect, type ClientHttp2Session } from 'node:http2';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/sql/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { selfSignedCertificate } from '../support/tls.js';
import { eventually } from '../support/wait.js';
import { startTestWalcast, waitUntilReady, type TestWalcast } from '../support/walcast.js';

const CHROMIUM = process.env['WALCAST_CHROMIUM'] ?? '/usr/bin/chromium';
const browserRunnable = existsSync(CHROMIUM) || process.env['CI'] === 'true';

let db: TestDatabase;
let walcast: TestWalcast;
let certDir: string;

beforeAll(async () => {
  certDir = await mkdtemp(path.join(tmpdir(), 'walcast-tls-'));
  await selfSignedCertificate({ key: path.join(certDir, 'key.pem'), cert: path.join(certDir, 'cert.pem') });
  db = await createTestDatabase('http2');
  await migrate(db.url);
  await db.sql.query(`
    create table notes (id bigserial primary key, org_id text not null, body text not null);
    select walcast.expose('notes', tenant_column => 'org_id', version_column => 'version', writable_columns => '{body}');`);
  walcast = await startTestWalcast(db.url, {
    WALCAST_TLS_CERT: path.join(certDir, 'cert.pem'),
    WALCAST_TLS_KEY: path.join(certDir, 'key.pem'),
  });
  await waitUntilReady(walcast);
});

afterAll(async () => {
  await walcast?.close();
  await db?.drop();
  if (certDir) await rm(certDir, { recursive: true, force: true });
});

interface Answer {
  readonly status: number;
  readonly headers: Record<string, unknown>;
  readonly body: string;
}

function h2(session: ClientHttp2Session, path: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path, ':method': options.method ?? 'GET', ...options.headers });
    let body = '';
    let headers: Record<string, unknown> = {};
    stream.on('response', (received) => (headers = received));
    stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
    stream.on('end', () => resolve({ status: Number(headers[':status']), headers, body }));
    stream.on('error', reject);
    stream.end(options.body);
  });
}

describe('HTTPS with HTTP/2', () => {
  it('serves every route and the stream over HTTP/2, many on one connection', async () => {
    expect(walcast.url).toMatch(/^https:/);
    const session = http2Connect(walcast.url, { rejectUnauthorized: false });
    try {
      const token = await walcast.token('acme');
      const auth = { authorization: `Bearer ${token}` };
      expect((await h2(session, '/healthz')).status).toBe(200);
      const body = JSON.stringify({ body: 'over h2' });
      const inserted = await h2(session, '/v1/tables/notes/rows', {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
        body,
      });
      expect(inserted.status).toBe(201);
      expect(JSON.parse(inserted.body)).toMatchObject({ row: { body: 'over h2', org_id: 'acme' } });
      const snapshot = await h2(session, '/v1/tables/notes/rows', { headers: auth });
      expect(JSON.parse(snapshot.body)).toMatchObject({ rows: [{ body: 'over h2' }] });
      expect(JSON.parse((await h2(session, '/v1/nope', { headers: auth })).body)).toMatchObject({ error: 'not_found' });

      // Two streams on the same connection, each receiving the same insert.
      const streams = ['a', 'b'].map(() => {
        const stream = session.request({ ':path': `/v1/stream?tables=notes&access_token=${token}` });
        let text = '';
        stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
        return { stream, text: () => text };
      });
      // Opened: each has its `retry:` line.
      await eventually('both streams are open', () => streams.every(({ text }) => text().startsWith('retry:')), 5_000);
      await db.sql.query(`insert into notes (org_id, body) values ('acme', 'streamed over h2')`);
      for (const { stream, text } of streams) {
        await eventually('the insert arrived over HTTP/2', () => text().includes('streamed over h2'), 5_000);
        expect(text()).toMatch(/^retry: \d+\n\n/);
        stream.close();
      }
    } finally {
      session.close();
    }
  });

  it('falls back to HTTP/1.1 for clients without HTTP/2', async () => {
    const answer = await new Promise<{ status: number; version: string; body: string }>((resolve, reject) => {
      const request = httpsRequest(`${walcast.url}/healthz`, { rejectUnauthorized: false }, (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, version: response.httpVersion, body }));
      });
      request.on('error', reject);
      request.end();
    });
    expect(answer).toEqual({ status: 200, version: '1.1', body: '{"status":"ok"}' });
  });

  it.runIf(browserRunnable)('serves Chromium an EventSource and fetches over HTTP/2', async () => {
    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update'] });
      const page = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
      await page.goto(`${walcast.url}/healthz`);
      const token = await walcast.token('acme', 'browser');
      const protocol = await page.evaluate(() => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol);
      expect(protocol).toBe('h2');
      await page.evaluate((streamToken) => {
        const state = { events: [] as string[], open: false };
        (window as unknown as { walcastTest: typeof state }).walcastTest = state;
        const source = new EventSource(`/v1/stream?tables=notes&access_token=${streamToken}`);
        source.onopen = () => (state.open = true);
        source.addEventListener('change', (event) => state.events.push((event as MessageEvent<string>).data));
      }, token);
      await page.waitForFunction(() => (window as unknown as { walcastTest: { open: boolean } }).walcastTest.open);
      const status = await page.evaluate(async (editToken) => {
        const response = await fetch('/v1/tables/notes/rows', {
          method: 'POST',
          headers: { authorization: `Bearer ${editToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ body: 'from chromium over h2' }),
        });
        return response.status;
      }, token);
      expect(status).toBe(201);
      await page.waitForFunction(() =>
        (window as unknown as { walcastTest: { events: string[] } }).walcastTest.events.some((data) => data.includes('from chromium over h2')),
      );
      const protocols = await page.evaluate(() =>
        performance.getEntriesByType('resource').map((entry) => (entry as PerformanceResourceTiming).nextHopProtocol),
      );
      expect(new Set(protocols)).toEqual(new Set(['h2']));
    } finally {
      await browser?.close();
    }
  });
});
