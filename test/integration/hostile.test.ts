// A hostile world (issues 7, 14): token checks (JWKS with rotation, algorithms, aud/iss,
// nbf, exp, a key set that cannot be fetched, tenants with control characters), CORS,
// broken HTTP, huge headers and URLs, stream limits (per instance, tenant and user), and
// tokens that never reach logs, metrics or error bodies. Every answer is a 4xx/5xx JSON
// error; nothing crashes, and nothing fails open.
import { createServer, request as httpRequest, type Server, type ServerResponse } from 'node:http';
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
import { eventually, metric } from '../support/wait.js';
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

/** A raw request: what no well-behaved client would send. The reply, once closed or once it holds `until`. */
async function raw(port: number, text: string, until?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => (until === undefined ? socket.end(text) : socket.write(text)));
    let reply = '';
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (until !== undefined && reply.includes(until)) {
        socket.destroy();
        resolve(reply);
      }
    });
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
    // Streams are served below node:http: a head it cannot read goes to node:http, which says why.
    const brokenStream = await raw(walcast.port, 'GET /v1/stream HTTP/1.1\r\nhost: x\r\nno colon here\r\n\r\n');
    expect(brokenStream).toMatch(/^HTTP\/1\.1 400 [\s\S]*\{"error":"bad_request"/);
    const noToken = await raw(walcast.port, 'GET /v1/stream?tables=x HTTP/1.1\r\nhost: x\r\nx-request-id: probe-1\r\n\r\n');
    expect(noToken).toMatch(/^HTTP\/1\.1 401 [\s\S]*x-request-id: probe-1[\s\S]*\{"error":"auth_required"/);
    // A stream asked for after another request on one keep-alive connection: node:http serves it.
    const reused = await raw(
      walcast.port,
      `GET /healthz HTTP/1.1\r\nhost: x\r\n\r\nGET /v1/stream?access_token=${await walcast.token('acme')} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`,
      'retry:',
    );
    expect(reused).toMatch(/^HTTP\/1\.1 200 [\s\S]*"status":"ok"[\s\S]*HTTP\/1\.1 200 [\s\S]*text\/event-stream[\s\S]*retry: \d+/);
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
    new SignJWT({ tenant_id: 'acme', ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: key.kid })
      .setSubject('ann')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(key.privateKey);

  beforeAll(async () => {
    keys = [await newKey('k1')];
    jwks = createServer((_request, response) => {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ keys: keys.map((key) => key.jwk) }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const jwksUrl = `http://127.0.0.1:${(jwks.address() as { port: number }).port}/jwks.json`;
    const config = loadConfig({
      DATABASE_URL: db.url,
      WALCAST_JWKS_URL: jwksUrl,
      WALCAST_PORT: '0',
      WALCAST_INSTANCE: 'jwks',
      LOG_LEVEL: 'silent',
      WALCAST_JWT_AUDIENCE: 'walcast',
      WALCAST_JWT_ISSUER: 'https://auth.example',
    });
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

  it('needs an audience or an issuer to check with a JWKS: a shared key set must not let other applications in', () => {
    expect(() => createTokenVerifier({ jwksUrl: 'https://auth.example/jwks.json', tenantClaim: 'tenant_id' })).toThrow(
      /WALCAST_JWT_AUDIENCE or WALCAST_JWT_ISSUER/,
    );
    expect(() => loadConfig({ DATABASE_URL: db.url, WALCAST_JWKS_URL: 'https://auth.example/jwks.json' })).toThrow(
      /WALCAST_JWKS_URL needs WALCAST_JWT_AUDIENCE or WALCAST_JWT_ISSUER/,
    );
    expect(() => createTokenVerifier({ jwksUrl: 'https://auth.example/jwks.json', tenantClaim: 'tenant_id', issuer: 'https://auth.example' })).not.toThrow();
  });

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
    const confused = await new SignJWT({ tenant_id: 'acme', ...good })
      .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
      .setSubject('ann')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(JSON.stringify(keys[1]!.jwk)));
    expect(await status(confused)).toBe(401);
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${Buffer.from(JSON.stringify({ tenant_id: 'acme', sub: 'ann', ...good })).toString('base64url')}.`;
    expect(await status(unsigned)).toBe(401);
  });

  it('never writes a token to logs, metrics or error bodies, ?access_token= included', async () => {
    const port = await freePort();
    const server = runCli(['serve'], {
      DATABASE_URL: db.url,
      WALCAST_JWT_SECRET: TEST_SECRET,
      WALCAST_PORT: String(port),
      WALCAST_INSTANCE: 'leaks',
      LOG_LEVEL: 'trace',
    });
    try {
      await waitForOutput(server, /walcast serving/);
      const base = `http://127.0.0.1:${port}`;
      const valid = await signToken(TEST_SECRET, { tenant: 'acme', sub: 'ann', ttlSeconds: 600, tenantClaim: 'tenant_id' });
      const expired = await signToken(TEST_SECRET, { tenant: 'acme', sub: 'ann', ttlSeconds: -60, tenantClaim: 'tenant_id' });
      const forged = `${valid.slice(0, -6)}AAAAAA`;
      const bodies: string[] = [];
      for (const token of [valid, expired, forged]) {
        for (const url of [
          `${base}/v1/stream?tables=nope&access_token=${token}`,
          `${base}/v1/tables/notes/rows?access_token=${token}&where=bad`,
          `${base}/v1/presence?room=x&access_token=${token}`,
        ]) {
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
        bodies.push(
          await (
            await fetch(`${base}/v1/tables/notes/rows`, {
              method: 'POST',
              headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
              body: '{"oops"',
            })
          ).text(),
        );
      }
      bodies.push(await (await fetch(`${base}/metrics`)).text());
      // Request ids: a caller's safe one is echoed and logged; anything else gets a new UUID.
      const traced = await fetch(`${base}/healthz`, { headers: { 'x-request-id': 'trace-me-123' } });
      expect(traced.headers.get('x-request-id')).toBe('trace-me-123');
      const minted = (await fetch(`${base}/healthz`, { headers: { 'x-request-id': 'not {safe}' } })).headers.get('x-request-id');
      expect(minted).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      // Each request is logged once it is answered: wait for the last two lines.
      await waitForOutput(server, /"requestId":"trace-me-123"/);
      await waitForOutput(server, new RegExp(`"requestId":"${minted}"`));
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

describe('tokens that never expire or carry control characters', () => {
  /** What each route answers a token: status and error code, the stream included. */
  async function answers(token: string): Promise<[string, number, unknown][]> {
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const requests: [string, Promise<Response>][] = [
      ['stream', fetch(walcast.streamUrl(token))],
      ['snapshot', fetch(`${walcast.url}/v1/tables/notes/rows`, { headers })],
      ['insert', fetch(`${walcast.url}/v1/tables/notes/rows`, { method: 'POST', headers, body: '{"body":"x"}' })],
      ['presence', fetch(`${walcast.url}/v1/presence?room=x`, { headers })],
    ];
    return Promise.all(
      requests.map(async ([route, pending]) => {
        const response = await pending;
        if (response.status < 400) {
          await response.body?.cancel();
          return [route, response.status, undefined] as [string, number, unknown];
        }
        return [route, response.status, ((await response.json()) as { error?: string }).error] as [string, number, unknown];
      }),
    );
  }

  it('refuses a token without exp (401) on every route and the stream', async () => {
    const forever = await new SignJWT({ tenant_id: 'acme' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('ann')
      .setIssuedAt()
      .sign(new TextEncoder().encode(TEST_SECRET));
    expect(await answers(forever)).toEqual([
      ['stream', 401, 'invalid_token'],
      ['snapshot', 401, 'invalid_token'],
      ['insert', 401, 'invalid_token'],
      ['presence', 401, 'invalid_token'],
    ]);
    const response = await fetch(walcast.streamUrl(forever));
    expect(((await response.json()) as { message: string }).message).toMatch(/"exp"/);
  });

  it('refuses a tenant claim with control or other non-printable characters (401, saying so)', async () => {
    for (const tenant of ['acme\u0000', 'acme\nglobex', 'ac\u200bme', 'acme\u2028', '\u007f', 'acme\u202e']) {
      const token = await walcast.token(tenant);
      expect(
        (await answers(token)).map(([, status]) => status),
        JSON.stringify(tenant),
      ).toEqual([401, 401, 401, 401]);
      const response = await fetch(`${walcast.url}/v1/presence?room=x`, { headers: { authorization: `Bearer ${token}` } });
      expect(((await response.json()) as { message: string }).message).toMatch(/"tenant_id" claim contains control or other non-printable characters/);
    }
    // Printable tenants of any script are fine.
    expect((await answers(await walcast.token('Ünïcødé 株式会社'))).map(([, status]) => status)).toEqual([200, 200, 201, 200]);
  });
});

describe('streams per user', () => {
  it('holds one user to WALCAST_MAX_CLIENTS_PER_USER streams (429 with Retry-After), not the others of the tenant', async () => {
    const limited = await startTestWalcast(db.url, { WALCAST_INSTANCE: 'per_user', WALCAST_MAX_CLIENTS_PER_USER: '2' });
    const open: Response[] = [];
    try {
      const ann = await limited.token('acme', 'ann');
      for (let i = 0; i < 2; i++) open.push(await fetch(limited.streamUrl(ann)));
      expect(open.map((response) => response.status)).toEqual([200, 200]);
      const third = await fetch(limited.streamUrl(ann));
      expect(third.status).toBe(429);
      expect(third.headers.get('retry-after')).toBe('10');
      expect(await third.json()).toMatchObject({ error: 'too_many_streams', message: expect.stringMatching(/per user/) });
      // Another user of the tenant, and a user named ann in another tenant, are not held back.
      open.push(await fetch(limited.streamUrl(await limited.token('acme', 'bob'))));
      open.push(await fetch(limited.streamUrl(await limited.token('globex', 'ann'))));
      expect(open.slice(2).map((response) => response.status)).toEqual([200, 200]);
      // A stream that ends gives its place back.
      await open.shift()!.body?.cancel();
      await eventually('ann may open a stream again', async () => {
        const again = await fetch(limited.streamUrl(ann));
        if (again.status === 200) open.push(again);
        else await again.body?.cancel();
        return again.status === 200;
      });
    } finally {
      for (const response of open) await response.body?.cancel();
      await limited.close();
    }
  });

  it('gives a place back when a client that pipelined streams behind another request goes away', async () => {
    const limited = await startTestWalcast(db.url, { WALCAST_INSTANCE: 'pipelined', WALCAST_MAX_CLIENTS_PER_USER: '2' });
    const open: Response[] = [];
    try {
      const ann = await limited.token('acme', 'ann');
      const stream = `GET /v1/stream?access_token=${ann} HTTP/1.1\r\nHost: x\r\n\r\n`;
      // Node's own server takes this connection (its first request is not a stream); the
      // second stream waits behind the first, which never ends, so only the first answers.
      const socket = connect(Number(new URL(limited.url).port), '127.0.0.1');
      socket.write(`GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n${stream}${stream}`);
      let reply = '';
      socket.on('data', (chunk: Buffer) => {
        reply += chunk.toString();
      });
      await eventually('the first stream answers', () => reply.includes('retry:'));
      await eventually('both streams counted', async () => (await metric(limited.url, 'walcast_clients')) === 2);
      socket.destroy();
      await eventually('both places given back', async () => (await metric(limited.url, 'walcast_clients')) === 0);
      for (let i = 0; i < 2; i++) open.push(await fetch(limited.streamUrl(ann)));
      expect(open.map((response) => response.status)).toEqual([200, 200]);
    } finally {
      for (const response of open) await response.body?.cancel();
      await limited.close();
    }
  });
});

describe('a key set that cannot be fetched', () => {
  type Mode = 'ok' | 'hang' | 'garbage' | 'error';
  let mode: Mode = 'ok';
  let jwks: Server;
  let port: number;
  let keys: { kid: string; privateKey: CryptoKey; jwk: object }[] = [];
  let instance: RunningWalcast;
  const hung = new Set<ServerResponse>();

  async function newKey(kid: string) {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
  }
  const sign = (key: { kid: string; privateKey: CryptoKey }) =>
    new SignJWT({ tenant_id: 'acme' })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid })
      .setAudience('walcast')
      .setSubject('ann')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(key.privateKey);

  async function startJwks(): Promise<void> {
    jwks = createServer((_request, response) => {
      if (mode === 'hang') return void hung.add(response);
      if (mode === 'error') return void response.writeHead(502).end('bad gateway');
      response.setHeader('content-type', 'application/json');
      response.end(mode === 'garbage' ? '{"keys": "<html>maintenance</html>"' : JSON.stringify({ keys: keys.map((key) => key.jwk) }));
    });
    await new Promise<void>((resolve) => jwks.listen(port, '127.0.0.1', resolve));
    port = (jwks.address() as { port: number }).port;
  }
  async function stopJwks(): Promise<void> {
    for (const response of hung) response.destroy();
    hung.clear();
    jwks.closeAllConnections();
    await new Promise((resolve) => jwks.close(resolve));
  }

  beforeAll(async () => {
    port = 0;
    keys = [await newKey('k1')];
    await startJwks();
    const jwksUrl = `http://127.0.0.1:${port}/jwks.json`;
    // Down from the start: no set was ever fetched.
    await stopJwks();
    const config = loadConfig({
      DATABASE_URL: db.url,
      WALCAST_JWKS_URL: jwksUrl,
      WALCAST_JWT_AUDIENCE: 'walcast',
      WALCAST_PORT: '0',
      WALCAST_INSTANCE: 'jwks_down',
      LOG_LEVEL: 'silent',
    });
    instance = await startWalcast({
      config,
      databaseUrl: db.url,
      log: createLogger('silent'),
      host: '127.0.0.1',
      verifyToken: createTokenVerifier({ jwksUrl, tenantClaim: 'tenant_id', audience: 'walcast', jwksCooldownMs: 0, jwksTimeoutMs: 300 }),
    });
  });

  afterAll(async () => {
    await instance?.close();
    if (jwks.listening) await stopJwks();
  });

  /** What a route and the stream answer a token: never 401 while the set is out of reach. */
  async function answers(token: string) {
    const route = await fetch(`${instance.url}/v1/presence?room=x`, { headers: { authorization: `Bearer ${token}` } });
    const stream = await fetch(`${instance.url}/v1/stream?access_token=${token}`);
    const streamType = stream.headers.get('content-type');
    const streamBody = streamType?.startsWith('text/event-stream') && route.status === 503 ? await stream.text() : undefined;
    if (streamBody === undefined) await stream.body?.cancel();
    return {
      route: route.status,
      retryAfter: route.headers.get('retry-after'),
      error: route.status === 200 ? undefined : ((await route.json()) as { error: string }).error,
      stream: stream.status,
      streamType,
      streamBody,
    };
  }

  const unavailable = {
    route: 503,
    retryAfter: '5',
    error: 'auth_unavailable',
    stream: 200,
    streamType: expect.stringMatching(/^text\/event-stream/),
    // Only a retry hint, then the end: an EventSource comes back after it.
    streamBody: 'retry: 5000\n\n',
  };

  it('answers 503 with Retry-After, and a stream 200 with only a retry: line, never 401 while it is down, timing out or answering garbage', async () => {
    const k1 = await sign(keys[0]!);
    // Never fetched: the endpoint is down.
    expect(await answers(k1)).toEqual(unavailable);

    await startJwks();
    expect(await answers(k1)).toMatchObject({ route: 200, stream: 200 });

    // A new key appears while the set cannot be fetched: its tokens wait, they are not invalid.
    keys.push(await newKey('k2'));
    const k2 = await sign(keys[1]!);
    for (const outage of ['hang', 'garbage', 'error'] as const) {
      mode = outage;
      expect(await answers(k2), outage).toEqual(unavailable);
      // Tokens signed with a key of the last good set go on working.
      expect(await answers(k1), outage).toMatchObject({ route: 200, stream: 200 });
    }
    mode = 'ok';
    await stopJwks();
    expect(await answers(k2)).toEqual(unavailable);
    expect(await answers(k1)).toMatchObject({ route: 200, stream: 200 });

    // Back: the new key is fetched, and a key the set really lacks is invalid again.
    await startJwks();
    expect(await answers(k2)).toMatchObject({ route: 200, stream: 200 });
    expect(await answers(await sign(await newKey('k3')))).toMatchObject({ route: 401, error: 'invalid_token', stream: 401 });
  });
});
