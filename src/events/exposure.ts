// What a DBA exposed (walcast.expose): per table, its tenant column, primary key and
// hidden columns. Held in memory and changed in stream order by `walcast.config` messages.
import { z } from 'zod';

/** `schema.table`, spelled as in the catalog. */
export type TableName = `${string}.${string}` & { readonly __brand: 'TableName' };

export function tableName(schema: string, name: string): TableName {
  return `${schema}.${name}` as TableName;
}

/** One exposed table, as `walcast.expose` stores it and announces it in the WAL. */
export const Exposure = z.object({
  table: z.string().transform((value) => value as TableName),
  publication: z.string(),
  tenantColumn: z.string().nullable(),
  versionColumn: z.string().nullable(),
  primaryKey: z.array(z.string()),
  hiddenColumns: z.array(z.string()),
  writableColumns: z.array(z.string()).nullable(),
});
export type Exposure = z.infer<typeof Exposure>;

/** The payload of a `walcast.config` logical message (sql/001_walcast.sql emits it). */
export const ConfigMessage = z.discriminatedUnion('op', [
  z.object({ op: z.literal('expose'), exposure: Exposure }),
  z.object({
    op: z.literal('conceal'),
    table: z.string().transform((value) => value as TableName),
    publication: z.string(),
  }),
]);
export type ConfigMessage = z.infer<typeof ConfigMessage>;

export const CONFIG_MESSAGE_PREFIX = 'walcast.config';

/** The exposures of one publication (the one this instance streams). */
export class ExposureCatalog {
  private readonly tables = new Map<TableName, Exposure>();
  /** Bumped on every change so derived per-relation shapes know when to rebuild. */
  version = 0;

  constructor(readonly publication: string, initial: Iterable<Exposure> = []) {
    this.replaceAll(initial);
  }

  get(table: TableName): Exposure | undefined {
    return this.tables.get(table);
  }

  has(table: TableName): boolean {
    return this.tables.has(table);
  }

  names(): TableName[] {
    return [...this.tables.keys()];
  }

  apply(message: ConfigMessage): void {
    if (message.op === 'expose') {
      if (message.exposure.publication === this.publication) this.tables.set(message.exposure.table, message.exposure);
      else this.tables.delete(message.exposure.table);
    } else if (message.publication === this.publication) {
      this.tables.delete(message.table);
    }
    this.version++;
  }

  replaceAll(exposures: Iterable<Exposure>): void {
    this.tables.clear();
    for (const exposure of exposures) {
      if (exposure.publication === this.publication) this.tables.set(exposure.table, exposure);
    }
    this.version++;
  }
}
