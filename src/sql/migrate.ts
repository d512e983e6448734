// Applies the versioned scripts in sql/ (each idempotent) under an advisory lock, so
// several instances starting at once do not race.
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

/** sql/ at the package root, from both src/sql (tests) and dist/sql (built). */
export const SQL_DIR = fileURLToPath(new URL('../../sql/', import.meta.url));

/** An arbitrary constant: the advisory lock key for walcast migrations. */
const MIGRATION_LOCK = 0x7761_6c63;

export interface MigrationResult {
  readonly applied: readonly string[];
  readonly version: number;
}

export async function migrate(connectionString: string): Promise<MigrationResult> {
  const files = (await readdir(SQL_DIR)).filter((name) => /^\d+_.*\.sql$/.test(name)).sort();
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query('begin');
    await client.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    for (const file of files) {
      await client.query(await readFile(`${SQL_DIR}${file}`, 'utf8'));
    }
    const version = await client.query<{ version: number }>('select max(version) as version from walcast.schema_version');
    await client.query('commit');
    return { applied: files, version: version.rows[0]?.version ?? 0 };
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    await client.end();
  }
}
