// sql/ evolves by adding scripts, never by editing one a release shipped (DESIGN §6), and
// every script from 002 on records itself, so psql -f and walcast migrate agree.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const SCRIPTS = readdirSync('sql')
  .filter((name) => /^\d{3}_.*\.sql$/.test(name))
  .sort();

describe('sql/', () => {
  it('keeps 001_walcast.sql byte-equal to the one 0.1.0 shipped', () => {
    expect(readFileSync('sql/001_walcast.sql').equals(readFileSync('test/fixtures/sql/0.1.0/001_walcast.sql'))).toBe(true);
  });

  it('numbers its scripts 001, 002, … without gaps or repeats', () => {
    expect(SCRIPTS.map((name) => Number(name.slice(0, 3)))).toEqual(SCRIPTS.map((_, index) => index + 1));
  });

  it.each(SCRIPTS.filter((name) => name !== '001_walcast.sql'))('%s ends by recording itself in walcast.migrations', (name) => {
    const statements = readFileSync(`sql/${name}`, 'utf8')
      .trim()
      .split(';')
      .map((part) => part.trim())
      .filter(Boolean);
    expect(statements.at(-1)).toBe(`insert into walcast.migrations (name) values ('${name}') on conflict do nothing`);
  });
});
