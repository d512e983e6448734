// Before an instance streams: what kind of server this is, walcast's SQL in place (applied
// here with WALCAST_MIGRATE=true, never with false), and everything the role needs. What
// is missing stops the start with one line naming it and its fix, before a slot, a
// connection or a port is taken: never half-started.
// On a physical standby (PostgreSQL 16+ decodes there) the schema and the publication
// arrive from the primary: nothing is installed, and writes (edits, presence) fail there.
import pg from 'pg';
import { WalcastError } from '../errors.js';
import { migrate, shippedScripts } from '../sql/migrate.js';
import { readableAppliedScripts, readServerSetup, type ServerSetup } from '../sql/server-setup.js';

export interface DatabaseRole {
  readonly standby: boolean;
}

/** How many missing privileges the one line names before "and N more". */
const NAMED_AT_MOST = 6;

const quoteLiteral = (text: string) => `'${text.replaceAll("'", "''")}'`;

/** The one line that says what stops this server from serving, or undefined when nothing does. */
export function setupProblem(setup: ServerSetup, shipped: readonly string[], publication: string, standby: boolean): string | undefined {
  const role = setup.role;
  const allow = `select walcast.allow_server(${quoteLiteral(role)})`;
  if (!setup.installed) return `walcast is not installed in database ${setup.database}: run walcast migrate as the database owner`;
  const lacking = setup.missing.filter((missing) => !standby || !missing.forWrites);
  const applied = setup.applied;
  if (applied) {
    const pending = shipped.filter((script) => !applied.has(script));
    if (pending.length > 0) {
      return `the walcast schema in database ${setup.database} lacks ${pending.join(', ')}: run walcast migrate as the schema's owner`;
    }
  }
  if (lacking.length > 0) {
    const named = lacking
      .slice(0, NAMED_AT_MOST)
      .map((missing) => (missing.privilege === 'REPLICATION' ? 'REPLICATION' : `${missing.privilege} on ${missing.object}`));
    const more = lacking.length > NAMED_AT_MOST ? ` and ${lacking.length - NAMED_AT_MOST} more` : '';
    const replication = lacking.some((missing) => missing.privilege === 'REPLICATION');
    const grants = lacking.some((missing) => missing.privilege !== 'REPLICATION');
    const fixes = [
      ...(replication ? [`ALTER ROLE ${pg.escapeIdentifier(role)} REPLICATION as a superuser`] : []),
      ...(grants ? [`${allow} as the owner of schema walcast`] : []),
    ];
    return `role ${role} lacks ${named.join(', ')}${more}: run ${fixes.join(', then ')}`;
  }
  if (!setup.publication.exists) {
    return `publication ${publication} does not exist: run select walcast.ensure_publication(${quoteLiteral(publication)}) as the owner of schema walcast`;
  }
  if (!setup.publication.carriesConfig) {
    return `publication ${publication} does not publish walcast.exposed_tables, so configuration changes would not reach this server: run select walcast.ensure_publication(${quoteLiteral(publication)}) as the owner of schema walcast`;
  }
  return undefined;
}

/** Applies what sql/ has that the database lacks; a role that may not is told in one line. */
async function install(pool: pg.Pool, databaseUrl: string, publication: string, shipped: readonly string[]): Promise<void> {
  const applied = await readableAppliedScripts(pool);
  // A role that cannot even read the record is no installer: the checks name what it lacks.
  if (!applied) return;
  const pending = shipped.filter((script) => !applied.has(script));
  try {
    if (pending.length > 0) await migrate(databaseUrl);
    const setup = await readServerSetup(pool, publication);
    if (!setup.publication.exists || !setup.publication.carriesConfig) {
      await pool.query('select walcast.ensure_publication($1)', [publication]);
    }
  } catch (error) {
    const { code, message } = error as { code?: string; message?: string };
    if (code !== '42501') throw error;
    const role = (await pool.query<{ role: string }>('select current_user as role')).rows[0]!.role;
    throw new WalcastError(
      'DATABASE_SETUP',
      `role ${role} cannot install walcast's SQL (${message}): run walcast migrate as the owner of schema walcast (or of the database), then serve with WALCAST_MIGRATE=false`,
      { cause: error },
    );
  }
}

export async function prepareDatabase(pool: pg.Pool, databaseUrl: string, publication: string, options: { readonly migrate: boolean }): Promise<DatabaseRole> {
  const standby = (await pool.query<{ standby: boolean }>('select pg_is_in_recovery() as standby')).rows[0]!.standby;
  const shipped = await shippedScripts();
  if (!standby && options.migrate) await install(pool, databaseUrl, publication, shipped);
  const problem = setupProblem(await readServerSetup(pool, publication), shipped, publication, standby);
  if (problem) throw new WalcastError('DATABASE_SETUP', problem);
  return { standby };
}
