// `walcast types`: reads the exposed tables of a database and returns their row types as
// a TypeScript module (typescript-types.ts says what they look like).
import pg from 'pg';
import { readShapes } from './read-shapes.js';
import { formatTypes } from './typescript-types.js';

export async function generateTypes(databaseUrl: string, publication: string, tables: readonly string[]): Promise<string> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return formatTypes(await readShapes(client, publication, tables));
  } finally {
    await client.end();
  }
}
