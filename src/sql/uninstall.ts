// `walcast uninstall`: walcast.uninstall() (sql/002) in one transaction, by the schema's
// owner. It refuses while an instance holds a walcast slot, and says what it removed.
import pg from 'pg';
import { WalcastError } from '../errors.js';

const OBJECT_IN_USE = '55006';
const INSUFFICIENT_PRIVILEGE = '42501';

export async function uninstall(connectionString: string, options: { readonly dropVersionColumns: boolean }): Promise<string[]> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const installed = await client.query(`select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                                           where n.nspname = 'walcast' and p.proname = 'uninstall'`);
    if (installed.rowCount === 0) {
      const schema = await client.query(`select 1 from pg_namespace where nspname = 'walcast'`);
      throw new WalcastError(
        'DATABASE_SETUP',
        schema.rowCount === 0 ? 'walcast is not installed in this database' : 'this walcast schema predates walcast.uninstall(): run walcast migrate first',
      );
    }
    await client.query('begin');
    const { rows } = await client.query<{ step: string }>('select walcast.uninstall($1) as step', [options.dropVersionColumns]);
    await client.query('commit');
    return rows.map((row) => row.step);
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    const code = (error as { code?: string }).code;
    if (code === OBJECT_IN_USE || code === INSUFFICIENT_PRIVILEGE) {
      throw new WalcastError('DATABASE_SETUP', (error as Error).message, { cause: error });
    }
    throw error;
  } finally {
    await client.end();
  }
}
