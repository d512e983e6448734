// Reading values as Postgres's own text, in the format the decoders of events/values
// expect: the session settings, and a pg type parser that leaves every value as text.
import type pg from 'pg';
import { TEXT_FORMAT } from '../replication/text-format.js';

/** For pg queries: every column stays the text Postgres sent. */
export const RAW_TEXT = { getTypeParser: () => (value: string) => value };

const SETTINGS = Object.entries(TEXT_FORMAT);

/** `set_config(…, true), …` for the current transaction, with its parameters. */
export function textFormatSelect(): { readonly sql: string; readonly values: string[] } {
  return { sql: SETTINGS.map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, true)`).join(', '), values: SETTINGS.flat() };
}

/** Applies the text format to the open transaction on `client`. */
export async function applyTextFormat(client: pg.ClientBase): Promise<void> {
  const { sql, values } = textFormatSelect();
  await client.query(`select ${sql}`, values);
}
