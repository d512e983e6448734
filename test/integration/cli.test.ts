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
      expect(migrate.output).toMatch(/schema at version 1/);
      const token = runCli(['token', '--tenant', 'acme', '--sub', 'u1'], { DATABASE_URL: db.url, WALCAST_JWT_SECRET: TEST_SECRET });
      expect(await token.exited).toBe(0);
      const payload = JSON.parse(Buffer.from(token.output.trim().split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
      expect(payload).toMatchObject({ tenant_id: 'acme', sub: 'u1' });
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
