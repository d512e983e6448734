// Applies the versioned scripts in sql/ (`NNN_name.sql`), each once, in order, each in a
// transaction of its own under an advisory lock (instances starting together do not
// race). walcast.migrations records them; every script from 002 on records itself, so a
// DBA who applies them with psql gets the same record. 0.1.0 recorded only
// `walcast.schema_version` 1, which stands for 001.
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { WalcastError } from '../errors.js';

/** sql/ at the package root, from both src/sql (tests) and dist/sql (built). */
export const SQL_DIR = fileURLToPath(new URL('../../sql/', import.meta.url));

/** An arbitrary constant: the advisory lock key for walcast migrations. */
const MIGRATION_LOCK = 0x7761_6c63;

const SCRIPT = /^(\d{3})_[a-z0-9_]+\.sql$/;

export interface MigrationResult {
  /** Scripts this run applied, in order. */
  readonly applied: readonly string[];
  /** The number of the newest script applied to the database. */
  readonly version: number;
}

type Queryable = Pick<pg.ClientBase, 'query'>;

/** The scripts this version of walcast ships, in the order they apply. */
export async function shippedScripts(): Promise<string[]> {
  return (await readdir(SQL_DIR)).filter((name) => SCRIPT.test(name)).sort();
}

/** Scripts the database has applied; empty when walcast is not installed. */
export async function appliedScripts(db: Queryable): Promise<Set<string>> {
  const { rows } = await db.query<{ migrations: string | null; legacy: string | null }>(
    `select to_regclass('walcast.migrations')::text as migrations, to_regclass('walcast.schema_version')::text as legacy`,
  );
  if (rows[0]?.migrations) {
    return new Set((await db.query<{ name: string }>('select name from walcast.migrations')).rows.map((row) => row.name));
  }
  // 0.1.0's own record, until 002 (which creates walcast.migrations) has run.
  const legacy = rows[0]?.legacy ? await db.query('select 1 from walcast.schema_version where version = 1') : undefined;
  return new Set(legacy?.rowCount ? ['001_walcast.sql'] : []);
}

export function versionOf(scripts: Iterable<string>): number {
  return Math.max(0, ...[...scripts].map((name) => Number(SCRIPT.exec(name)?.[1] ?? 0)));
}

export async function pendingScripts(db: Queryable): Promise<string[]> {
  const applied = await appliedScripts(db);
  return (await shippedScripts()).filter((name) => !applied.has(name));
}

export async function migrate(connectionString: string): Promise<MigrationResult> {
  const client = new pg.Client({ connectionString });
  // A backend ended meanwhile fails the script in flight; unheard, its 'error' would end the process.
  client.on('error', () => undefined);
  await client.connect();
  try {
    const applied: string[] = [];
    for (const script of await pendingScripts(client)) {
      await client.query('begin');
      try {
        await client.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
        // Another instance may have applied it while this one waited for the lock.
        if (!(await appliedScripts(client)).has(script)) {
          await client.query(await readFile(`${SQL_DIR}${script}`, 'utf8'));
          if (!(await appliedScripts(client)).has(script)) {
            throw new WalcastError('INTERNAL', `sql/${script} did not record itself in walcast.migrations`);
          }
          applied.push(script);
        }
        await client.query('commit');
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        throw error;
      }
    }
    return { applied, version: versionOf(await appliedScripts(client)) };
  } finally {
    await client.end();
  }
}
