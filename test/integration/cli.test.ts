// The `walcast` command as a user runs it: built JS, real processes, real signals.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, waitForOutput } from '../support/cli.js';
import { createTestDatabase } from '../support/database.js';
import { SseClient } from '../support/sse.js';
import { TEST_SECRET } from '../support/walcast.js';

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

      const jwksOnly = runCli(['serve'], { ...env, WALCAST_JWT_SECRET: '', WALCAST_JWKS_URL: 'https://auth.example.com/jwks.json', WALCAST_DEMO: 'true' });
      expect(await jwksOnly.exited).toBe(2);
      expect(jwksOnly.output).toMatch(/WALCAST_DEMO=true needs WALCAST_JWT_SECRET/);
    } finally {
      await db.drop();
    }
  });

  describe('serve in embedded mode (npm start)', () => {
    let dataRoot: string;
    afterAll(async () => {
      if (dataRoot) await rm(dataRoot, { recursive: true, force: true });
    });

    it('starts Postgres, streams the demo table, stops on Ctrl-C and resumes the same slot on restart', async () => {
      dataRoot = await mkdtemp(path.join(tmpdir(), 'walcast-cli-'));
      await chmod(dataRoot, 0o755);
      const env = { WALCAST_DATA_DIR: path.join(dataRoot, '.walcast'), WALCAST_PORT: '0', WALCAST_INSTANCE: 'cli' };

      const first = runCli(['serve'], env);
      const [, streamUrl] = await waitForOutput(first, /stream: +(\S+)/);
      const [, psqlUrl] = await waitForOutput(first, /psql: +psql (\S+)/);
      const stream = await SseClient.open(streamUrl!);
      const db = new pg.Client({ connectionString: psqlUrl });
      await db.connect();
      await db.query(`insert into todos (org_id, title) values ('acme', 'first run'), ('other', 'not for acme')`);
      const seen = await stream.next();
      expect(seen.data).toMatchObject({ table: 'public.todos', tenant: 'acme', row: { title: 'first run' } });
      stream.close();
      await db.end();
      first.child.kill('SIGINT');
      expect(await first.exited).toBe(0);

      const second = runCli(['serve'], env);
      try {
        const [, secondStreamUrl] = await waitForOutput(second, /stream: +(\S+)/);
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
