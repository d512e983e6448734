// A database of its own for each test file, dropped (with its slots) afterwards.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

export interface TestDatabase {
  readonly url: string;
  /** A connected client for the test's own SQL (the "app"). */
  readonly sql: pg.Client;
  drop(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const adminUrl = inject('databaseUrl');
  const name = `walcast_${label.toLowerCase().replace(/[^a-z0-9]+/g, '_')}_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${pg.escapeIdentifier(name)}`);
  await admin.end();
  const url = withDatabase(adminUrl, name);
  const sql = new pg.Client({ connectionString: url });
  await sql.connect();
  return {
    url,
    sql,
    async drop() {
      await sql.end();
      const cleanup = new pg.Client({ connectionString: adminUrl });
      await cleanup.connect();
      try {
        // A slot is released a moment after its walsender stops (FACTS.md): retry briefly.
        for (let attempt = 0; ; attempt++) {
          try {
            await cleanup.query(`select pg_drop_replication_slot(slot_name) from pg_replication_slots where database = $1`, [name]);
            break;
          } catch (error) {
            if (attempt > 50) throw error;
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        }
        await cleanup.query(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`);
      } finally {
        await cleanup.end();
      }
    },
  };
}

/** One statement on a connection of its own (for servers a test starts itself). */
export async function queryOnce(url: string, text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}
