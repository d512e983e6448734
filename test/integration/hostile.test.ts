// A hostile world (issue 7): token checks (JWKS with rotation, algorithms, aud/iss, nbf),
// CORS, broken HTTP, huge headers and URLs, stream limits, and tokens that never reach
// logs, metrics or error bodies. Every answer is a 4xx/5xx JSON error; nothing crashes.
import { createServer, request as httpRequest, type Server } from 'node:http';
import { connect } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenVerifier, signToken } from '../../src/auth/jwt.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/log.js';
import { migrate } from '../../src/sql/migrate.js';
import { startWalcast, type RunningWalcast } from '../../src/walcast.js';
import { runCli, waitForOutput } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { freePort } from '../support/net.js';
import { startTestWalcast, TEST_SECRET, waitUntilReady, type TestWalcast } from '../support/walcast.js';

let db: TestDatabase;
let walcast: TestWalcast;

beforeAll(async () => {
  db = await createTestDatabase('hostile');
  await migrate(db.url);
  await db.sql.query(`create table notes (id serial primary key, org_id text not null, body text);
                      select walcast.expose('notes', tenant_column => 'org_id', version_column => 'version');`);
  walcast = await startTestWalcast(db.url, {
    WALCAST_CORS_ORIGINS: 'https://app.example.com',
    WALCAST_MAX_CLIENTS: '3',
    WALCAST_MAX_CLIENTS_PER_TENANT: '2',
  });
  await waitUntilReady(walcast);
});

afterAll(async () => {
  await walcast?.close();
  await db?.drop();
});

/** A raw request: what no well-behaved client would send. */
async function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(text));
    let reply = '';
    socket.on('data', (chunk) => (reply += chunk.toString()));
    socket.on('close', () => resolve(reply));
    socket.on('error', reject);
  });
}

describe('malformed HTTP', () => {
  it('answers huge headers, huge URLs, bad encoding and broken requests with JSON', async () => {
    const huge = await fetch(`${walcast.url}/healthz`, { headers: { 'x-junk': 'x'.repeat(40_000) } });
    expect(huge.status).toBe(431);
    expect(await huge.json()).toMatchObject({ error: 'bad_request' });
    const longUrl = await raw(walcast.port, `GET /v1/stream?tables=${'a'.repeat(70_000)} HTTP/1.1\r\nhost: x\r\n\r\n`);
    expect(longUrl).toMatch(/^HTTP\/1\.1 431 [\s\S]*\{"error":"bad_request"/);
    const garbage = await raw(walcast.port, 'GARBAGE \u0000\u0001 nonsense\r\n\r\n');
    expect(garbage).toMatch(/^HTTP\/1\.1 400 [\s\S]*\{"error":"bad_request"/);
    const badEncoding = await fetch(`${walcast.url}/v1/tables/%E0%A4%A/rows`, { headers: { authorization: `Bearer ${await walcast.token('acme')}` } });
    expect(badEncoding.status).toBe(400);
    expect(await badEncoding.json()).toMatchObject({ error: 'bad_request' });
    // Still serving.
    expect((await fetch(`${walcast.url}/healthz`)).status).toBe(200);
  });

  it('answers Last-Event-IDs that are garbage, huge or of the wrong format with 400, and waits on a future one', async () => {
    const token = await walcast.token('acme');
    for (const bad of ['garbage', 'S'.repeat(10_000), '00000000016B3748-00000G', '-', '00000000016B3748-000003\u0000']) {
      const response = await fetch(walcast.streamUrl(token, { lastEventId: bad }));
      expect(response.status, bad.slice(0, 20)).toBe(400);
      expect((await response.json()) as object).toMatchObject({ error: expect.stringMatching(/^invalid_(event_id|parameter)$/) });
    }
    const future = await fetch(walcast.streamUrl(token, { lastEventId: 'FFFFFFFF00000000-000000' }));
    expect(future.status).toBe(200);
    await future.body?.cancel();
  });
});

describe('CORS', () => {
  it('answers only the configured origins, never with credentials', async () => {
    const allowed = await fetch(`${walcast.url}/healthz`, { headers: { origin: 'https://app.example.com' } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(allowed.headers.get('access-control-allow-credentials')).toBeNull();
    const other = await fetch(`${walcast.url}/healthz`, { headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await fetch(`${walcast.url}/v1/tables/notes/rows`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'if-match' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-methods')).toMatch(/PATCH/);
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/if-match/);

    // Streams are served outside express: the same headers, and errors in the same JSON.
    const token = await walcast.token('acme');
    const streamHeaders = (origin: string) =>
      new Promise<Record<string, string | string[] | undefined>>((resolve, reject) => {
        const request = httpRequest(`${walcast.url}/v1/stream?access_token=${token}`, { headers: { origin, 'x-request-id': 'stream-1' } }, (reply) => {
          resolve(reply.headers);
          request.destroy();
        });
        request.on('error', reject).end();
      });
    const streamAllowed = await streamHeaders('https://app.example.com');
    expect(streamAllowed['content-type']).toMatch(/^text\/event-stream/);
    expect(streamAllowed['access-control-allow-origin']).toBe('https://app.example.com');
    expect(streamAllowed['x-request-id']).toBe('stream-1');
    expect((await streamHeaders('https://evil.example'))['access-control-allow-origin']).toBeUndefined();
    const refused = await fetch(`${walcast.url}/v1/stream?tables=nope`, { headers: { origin: 'https://app.example.com', authorization: `Bearer ${token}` } });
    expect(refused.status).toBe(404);
    expect(refused.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(await refused.json()).toMatchObject({ error: 'table_not_found' });
  });

  it('sends none by default outside embedded mode, and a bare * (no echo, no credentials) when asked for *', async () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://h/db', WALCAST_JWT_SECRET: TEST_SECRET }).corsOrigins).toEqual([]);
    expect(loadConfig({}).corsOrigins).toEqual(['*']);
    const open = await startTestWalcast(db.url, { WALCAST_INSTANCE: 'cors_any', WALCAST_CORS_ORIGINS: '*' });
    try {
      const response = await fetch(`${open.url}/healthz`, { headers: { origin: 'https://anyone.example' } });
      expect(response.headers.get('access-control-allow-origin')).toBe('*');
      expect(response.headers.get('access-control-allow-credentials')).toBeNull();
    } finally {
      await open.close();
    }
    expect(() => loadConfig({ WALCAST_CORS_ORIGINS: 'app.example.com' })).toThrow(/WALCAST_CORS_ORIGINS/);
  });
});

describe('stream limits', () => {
  it('refuses streams past the per-tenant limit (429) and the instance limit (503), as JSON', async () => {
    const token = await walcast.token('acme');
    const open: Response[] = [];
    try {
      for (let i = 0; i < 2; i++) open.push(await fetch(walcast.streamUrl(token)));
      const third = await fetch(walcast.streamUrl(token));
      expect(third.status).toBe(429);
      expect(await third.json()).toMatchObject({ error: 'too_many_streams' });
      open.push(await fetch(walcast.streamUrl(await walcast.token('globex'))));
      expect(open.map((response) => response.status)).toEqual([200, 200, 200]);
      const full = await fetch(walcast.streamUrl(await walcast.token('initech')));
      expect(full.status).toBe(503);
      expect(full.headers.get('retry-after')).toBe('10');
      expect(await full.json()).toMatchObject({ error: 'server_busy' });
    } finally {
      for (const response of open) await response.body?.cancel();
    }
  });
});

describe('tokens', () => {
  let jwks: Server;
  let keys: { kid: string; privateKey: CryptoKey; jwk: object }[] = [];
  let instance: RunningWalcast;

  async function newKey(kid: string) {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
  }

  const sign = (key: { kid: string; privateKey: CryptoKey }, claims: Record<string, unknown> = {}) =>
    new SignJWT({ tenant_id: 'acme', ...claims }).setProtectedHeader({ alg: 'RS256', kid: key.kid }).setSubject('ann').setIssuedAt().setExpirationTime('1h').sign(key.privateKey);

  beforeAll(async () => {
    keys = [await newKey('k1')];
    jwks = createServer((_request, response) => {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ keys: keys.map((key) => key.jwk) }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const jwksUrl = `http://127.0.0.1:${(jwks.address() as { port: number }).port}/jwks.json`;
    const config = loadConfig({ DATABASE_URL: db.url, WALCAST_JWKS_URL: jwksUrl, WALCAST_PORT: '0', WALCAST_INSTANCE: 'jwks', LOG_LEVEL: 'silent', WALCAST_JWT_AUDIENCE: 'walcast', WALCAST_JWT_ISSUER: 'https://auth.example' });
    instance = await startWalcast({
      config,
      databaseUrl: db.url,
      log: createLogger('silent'),
      host: '127.0.0.1',
      verifyToken: createTokenVerifier({ jwksUrl, tenantClaim: 'tenant_id', audience: 'walcast', issuer: 'https://auth.example', jwksCooldownMs: 0 }),
    });
  });

  afterAll(async () => {
    await instance?.close();
    jwks?.close();
  });

  const status = async (token: string) => (await fetch(`${instance.url}/v1/presence?room=x`, { headers: { authorization: `Bearer ${token}` } })).status;

  it('verifies against a JWKS, follows key rotation, and checks aud, iss, nbf and the algorithm', async () => {
    const good = { aud: 'walcast', iss: 'https://auth.example' };
    expect(await status(await sign(keys[0]!, good))).toBe(200);
    expect(await status(await sign(keys[0]!, { iss: 'https://auth.example' }))).toBe(401);
    expect(await status(await sign(keys[0]!, { aud: 'someone-else', iss: 'https://auth.example' }))).toBe(401);
    expect(await status(await sign(keys[0]!, { aud: 'walcast', iss: 'https://evil.example' }))).toBe(401);
    expect(await status(await sign(keys[0]!, { ...good, nbf: Math.floor(Date.now() / 1000) + 600 }))).toBe(401);

    // Rotation: a new key appears in the JWKS; tokens signed with it are accepted at once.
    keys = [await newKey('k2'), ...keys];
    expect(await status(await sign(keys[0]!, good))).toBe(200);

    // HS256 with the public key as secret (algorithm confusion) and unsigned tokens: refused.
    const confused = await new SignJWT({ tenant_id: 'acme', ...good }).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).setSubject('ann').setExpirationTime('1h')
      .sign(new TextEncoder().encode(JSON.stringify(keys[1]!.jwk)));
    expect(await status(confused)).toBe(401);
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${Buffer.from(JSON.stringify({ tenant_id: 'acme', sub: 'ann', ...good })).toString('base64url')}.`;
    expect(await status(unsigned)).toBe(401);
  });

  it('never writes a token to logs, metrics or error bodies, ?access_token= included', async () => {
    const port = await freePort();
    const server = runCli(['serve'], { DATABASE_URL: db.url, WALCAST_JWT_SECRET: TEST_SECRET, WALCAST_PORT: String(port), WALCAST_INSTANCE: 'leaks', LOG_LEVEL: 'trace' });
    try {
      await waitForOutput(server, /walcast serving/);
      const base = `http://127.0.0.1:${port}`;
      const valid = await signToken(TEST_SECRET, { tenant: 'acme', sub: 'ann', ttlSeconds: 600, tenantClaim: 'tenant_id' });
      const expired = await signToken(TEST_SECRET, { tenant: 'acme', sub: 'ann', ttlSeconds: -60, tenantClaim: 'tenant_id' });
      const forged = `${valid.slice(0, -6)}AAAAAA`;
      const bodies: string[] = [];
      for (const token of [valid, expired, forged]) {
        for (const url of [`${base}/v1/stream?tables=nope&access_token=${token}`, `${base}/v1/tables/notes/rows?access_token=${token}&where=bad`, `${base}/v1/presence?room=x&access_token=${token}`]) {
          const response = await new Promise<string>((resolve) => {
            const request = httpRequest(url, (reply) => {
              let text = '';
              reply.on('data', (chunk: Buffer) => {
                text += chunk.toString();
                if (reply.headers['content-type']?.startsWith('text/event-stream')) request.destroy();
              });
              reply.on('end', () => resolve(text));
              reply.on('close', () => resolve(text));
            });
            request.end();
          });
          bodies.push(response);
        }
        bodies.push(await (await fetch(`${base}/v1/tables/notes/rows`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"oops"' })).text());
      }
      bodies.push(await (await fetch(`${base}/metrics`)).text());
      // Request ids: a caller's safe one is echoed and logged; anything else gets a new UUID.
      const traced = await fetch(`${base}/healthz`, { headers: { 'x-request-id': 'trace-me-123' } });
      expect(traced.headers.get('x-request-id')).toBe('trace-me-123');
      const minted = (await fetch(`${base}/healthz`, { headers: { 'x-request-id': 'not {safe}' } })).headers.get('x-request-id');
      expect(minted).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      await new Promise((resolve) => setTimeout(resolve, 300));
      server.child.kill('SIGTERM');
      await server.exited;
      const everything = `${server.output}\n${bodies.join('\n')}`;
      expect(server.output).toMatch(/"msg":"request"/);
      expect(server.output).toMatch(/"requestId":"trace-me-123","method":"GET","route":"\/healthz"[^\n]*"status":200/);
      expect(server.output).toContain(`"requestId":"${minted}"`);
      for (const token of [valid, expired, forged]) {
        expect(everything).not.toContain(token);
        expect(everything).not.toContain(token.split('.')[2]!);
      }
    } finally {
      if (server.child.exitCode === null) server.child.kill('SIGKILL');
    }
  });
});
