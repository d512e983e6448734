// Database roles of a test's own (roles are cluster-wide: named after the test, random
// suffix), and URLs that log in as them. Dropped after the test's database is.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { queryOnce } from './database.js';

export interface TestRole {
  readonly name: string;
  /** `databaseUrl`, logged in as this role. */
  urlFor(databaseUrl: string): string;
  drop(): Promise<void>;
}

/** `attributes`: what CREATE ROLE takes besides LOGIN and the password, e.g. `REPLICATION`. */
export async function createRole(label: string, attributes = ''): Promise<TestRole> {
  const name = `${label.toLowerCase().replace(/[^a-z0-9]+/g, '_')}_${randomBytes(3).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  const adminUrl = inject('databaseUrl');
  await queryOnce(adminUrl, `create role ${pg.escapeIdentifier(name)} login ${attributes} password '${password}'`);
  return {
    name,
    urlFor(databaseUrl) {
      const url = new URL(databaseUrl);
      url.username = name;
      url.password = password;
      return url.toString();
    },
    async drop() {
      await queryOnce(adminUrl, `drop role if exists ${pg.escapeIdentifier(name)}`);
    },
  };
}
