// What stops a server from serving is said in one line, with its fix (DESIGN §6).
import { describe, expect, it } from 'vitest';
import { setupProblem } from '../../src/lifecycle/database.js';
import type { ServerSetup } from '../../src/sql/server-setup.js';

const SHIPPED = ['001_walcast.sql', '002_trusted_config.sql'];
const ready: ServerSetup = {
  role: 'app_walcast',
  database: 'app',
  installed: true,
  applied: new Set(SHIPPED),
  publication: { exists: true, carriesConfig: true },
  missing: [],
};

describe('setupProblem', () => {
  it('is nothing when the schema is current, the role has what it needs and the publication carries the configuration', () => {
    expect(setupProblem(ready, SHIPPED, 'walcast', false)).toBeUndefined();
  });

  it('names a missing schema or script and says to migrate as the owner', () => {
    expect(setupProblem({ ...ready, installed: false }, SHIPPED, 'walcast', false)).toBe(
      'walcast is not installed in database app: run walcast migrate as the database owner',
    );
    expect(setupProblem({ ...ready, applied: new Set(['001_walcast.sql']) }, SHIPPED, 'walcast', false)).toBe(
      "the walcast schema in database app lacks 002_trusted_config.sql: run walcast migrate as the schema's owner",
    );
  });

  it('names each missing privilege and the statements that give them', () => {
    const missing = [
      { privilege: 'REPLICATION', object: 'role app_walcast', forWrites: false },
      { privilege: 'SELECT', object: 'public.todos', forWrites: false },
      { privilege: 'UPDATE (title)', object: 'public.todos', forWrites: true },
    ];
    expect(setupProblem({ ...ready, missing }, SHIPPED, 'walcast', false)).toBe(
      'role app_walcast lacks REPLICATION, SELECT on public.todos, UPDATE (title) on public.todos: run ALTER ROLE "app_walcast" REPLICATION as a superuser, then select walcast.allow_server(\'app_walcast\') as the owner of schema walcast',
    );
    // On a standby nothing is written: write privileges are not needed there.
    expect(setupProblem({ ...ready, missing: missing.slice(2) }, SHIPPED, 'walcast', true)).toBeUndefined();
    const many = Array.from({ length: 9 }, (_, i) => ({ privilege: 'SELECT', object: `public.t${i}`, forWrites: false }));
    expect(setupProblem({ ...ready, missing: many }, SHIPPED, 'walcast', false)).toMatch(/public\.t5 and 3 more: run select walcast\.allow_server/);
  });

  it('is one line, quoting names as SQL needs', () => {
    const problem = setupProblem(
      { ...ready, role: "o'brien", missing: [{ privilege: 'USAGE', object: 'schema walcast', forWrites: false }] },
      SHIPPED,
      'walcast',
      false,
    );
    expect(problem).toBe("role o'brien lacks USAGE on schema walcast: run select walcast.allow_server('o''brien') as the owner of schema walcast");
    expect(problem).not.toContain('\n');
  });

  it('names a publication that is missing or does not carry walcast.exposed_tables', () => {
    expect(setupProblem({ ...ready, publication: { exists: false, carriesConfig: false } }, SHIPPED, 'walcast', false)).toBe(
      "publication walcast does not exist: run select walcast.ensure_publication('walcast') as the owner of schema walcast",
    );
    expect(setupProblem({ ...ready, publication: { exists: true, carriesConfig: false } }, SHIPPED, 'walcast', false)).toMatch(
      /^publication walcast does not publish walcast\.exposed_tables, so configuration changes would not reach this server: run select walcast\.ensure_publication\('walcast'\)/,
    );
  });
});
