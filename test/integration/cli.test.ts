// The `walcast` command as a user runs it: built JS, real processes, real signals.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, waitForOutput } from '../support/cli.js';
import { createTestDatabase } from '../support/database.js';
import { SseClient, type ReceivedMessage } from '../support/sse.js';
import { TEST_SECRET } from '../support/walcast.js';

/**
 * Whether something listens on `port` at 127.0.0.2: a loopback address too, but one a
 * server bound to 127.0.0.1 does not answer, while one on every interface does.
 */
function answersBeyond127001(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.2', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

describe('walcast CLI', () => {
  it('stops with a message naming a bad environment variable', async () => {
    const run = runCli(['serve'], { WALCAST_PORT: 'not-a-port' });
    expect(await run.exited).toBe(2);
    expect(run.output).toMatch(/WALCAST_PORT/);
  });

  it('migrates a database and signs tokens', async () => {
    const db = await createTestDatabase('cli_migrate');
    try {
      const migrate = runCli(['migrate'], { DATABASE_URL: db.url, WALCAST_JWT_SECRET: TEST_SECRET });
      expect(await migrate.exited).toBe(0);
      expect(migrate.output).toMatch(/schema at version \d+ \(applied 001_walcast\.sql, 002_trusted_config\.sql/);
      const token = runCli(['token', '--tenant', 'acme', '--sub', 'u1'], { DATABASE_URL: db.url, WALCAST_JWT_SECRET: TEST_SECRET });
      expect(await token.exited).toBe(0);
      const payload = JSON.parse(Buffer.from(token.output.trim().split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
      expect(payload).toMatchObject({ tenant_id: 'acme', sub: 'u1' });
    } finally {
      await db.drop();
    }
  });

  it('serves the demo page with DATABASE_URL only when WALCAST_DEMO=true (docker compose)', async () => {
    const db = await createTestDatabase('cli_demo');
    const env = { DATABASE_URL: db.url, WALCAST_JWT_SECRET: TEST_SECRET, WALCAST_PORT: '0', WALCAST_INSTANCE: 'cli_demo' };
    const urlOf = async (run: ReturnType<typeof runCli>) => `http://localhost:${(await waitForOutput(run, /"url":"http:\/\/localhost:(\d+)"/))[1]}`;
    try {
      const plain = runCli(['serve'], env);
      const plainUrl = await urlOf(plain);
      // With DATABASE_URL (a server, a container): every interface.
      expect(await answersBeyond127001(Number(new URL(plainUrl).port))).toBe(true);
      expect((await fetch(`${plainUrl}/`)).status).toBe(404);
      expect((await fetch(`${plainUrl}/dev/token`)).status).toBe(404);
      plain.child.kill('SIGTERM');
      expect(await plain.exited).toBe(0);

      const demo = runCli(['serve'], { ...env, WALCAST_DEMO: 'true' });
      const demoUrl = await urlOf(demo);
      expect(demo.output).toMatch(/WALCAST_DEMO=true: \/dev\/token hands anyone/);
      expect(await (await fetch(`${demoUrl}/`)).text()).toMatch(/Shared todos/);
      const { token } = (await (await fetch(`${demoUrl}/dev/token?tenant=globex&sub=gina`)).json()) as { token: string };
      expect((await fetch(`${demoUrl}/v1/presence?room=lobby`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
      expect((await fetch(`${demoUrl}/demo/client/index.js`)).headers.get('content-type')).toMatch(/javascript/);
      demo.child.kill('SIGTERM');
      expect(await demo.exited).toBe(0);

      const jwksOnly = runCli(['serve'], {
        ...env,
        WALCAST_JWT_SECRET: '',
        WALCAST_JWKS_URL: 'https://auth.example.com/jwks.json',
        WALCAST_JWT_AUDIENCE: 'walcast',
        WALCAST_DEMO: 'true',
      });
      expect(await jwksOnly.exited).toBe(2);
      expect(jwksOnly.output).toMatch(/WALCAST_DEMO=true needs WALCAST_JWT_SECRET/);
      const jwksAlone = runCli(['serve'], { ...env, WALCAST_JWT_SECRET: '', WALCAST_JWKS_URL: 'https://auth.example.com/jwks.json' });
      expect(await jwksAlone.exited).toBe(2);
      expect(jwksAlone.output).toMatch(/WALCAST_JWKS_URL needs WALCAST_JWT_AUDIENCE or WALCAST_JWT_ISSUER/);
    } finally {
      await db.drop();
    }
  });

  describe('serve in embedded mode (npm start)', () => {
    let dataRoot: string;
    afterAll(async () => {
      if (dataRoot) await rm(dataRoot, { recursive: true, force: true });
    });

    it('starts Postgres, streams the demo table on loopback only (unless WALCAST_HOST says otherwise), stops on Ctrl-C and resumes the same slot on restart', async () => {
      dataRoot = await mkdtemp(path.join(tmpdir(), 'walcast-cli-'));
      await chmod(dataRoot, 0o755);
      const env = { WALCAST_DATA_DIR: path.join(dataRoot, '.walcast'), WALCAST_PORT: '0', WALCAST_INSTANCE: 'cli' };

      const first = runCli(['serve'], env);
      let seen: ReceivedMessage;
      try {
        const [, streamUrl] = await waitForOutput(first, /stream: +(\S+)/);
        const [, psqlUrl] = await waitForOutput(first, /psql: +psql (\S+)/);
        // The dev token endpoint and CORS: * never reach a network by accident.
        expect(new URL(streamUrl!).hostname).toBe('127.0.0.1');
        expect(await answersBeyond127001(Number(new URL(streamUrl!).port))).toBe(false);
        expect((await fetch(new URL('/dev/token?tenant=acme&sub=u', streamUrl!))).status).toBe(200);
        const stream = await SseClient.open(streamUrl!);
        const db = new pg.Client({ connectionString: psqlUrl });
        await db.connect();
        await db.query(`insert into todos (org_id, title) values ('acme', 'first run'), ('other', 'not for acme')`);
        seen = await stream.next();
        expect(seen.data).toMatchObject({ table: 'public.todos', tenant: 'acme', row: { title: 'first run' } });
        stream.close();
        await db.end();
      } finally {
        // Ctrl-C also when an expectation failed: the embedded Postgres stops with it.
        first.child.kill('SIGINT');
      }
      expect(await first.exited).toBe(0);

      const second = runCli(['serve'], { ...env, WALCAST_HOST: '0.0.0.0' });
      try {
        const [, secondStreamUrl] = await waitForOutput(second, /stream: +(\S+)/);
        expect(await answersBeyond127001(Number(new URL(secondStreamUrl!).port))).toBe(true);
        const [, secondPsql] = await waitForOutput(second, /psql: +psql (\S+)/);
        expect(second.output).toMatch(/"created":false/);
        const resumed = await SseClient.open(`${secondStreamUrl}&lastEventId=${seen.id}`);
        const db2 = new pg.Client({ connectionString: secondPsql });
        await db2.connect();
        await db2.query(`insert into todos (org_id, title) values ('acme', 'second run')`);
        await db2.end();
        expect((await resumed.next()).data).toMatchObject({ row: { title: 'second run' } });
        resumed.close();
      } finally {
        second.child.kill('SIGINT');
        expect(await second.exited).toBe(0);
      }
    });
  });
});
