// What is exposed, per table: its tenant column, key and hidden columns. Two sources:
// walcast.expose() (announced in the WAL as `walcast.config` messages and applied in
// stream order, so an event is always shaped by the configuration of its moment), and
// tables a DBA added to the publication directly, which every tenant may read.
import { z } from 'zod';
import { WalcastError } from '../errors.js';

/** `schema.table`, spelled as in the catalog. */
export type TableName = `${string}.${string}` & { readonly __brand: 'TableName' };

export function tableName(schema: string, name: string): TableName {
  return `${schema}.${name}` as TableName;
}

const Name = z.string().transform((value) => value as TableName);

/** One exposed table, as `walcast.exposure_json` describes it. Columns by current name. */
export const Exposure = z.object({
  relid: z.number().int().positive(),
  table: Name,
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
  z.object({ op: z.literal('conceal'), relid: z.number().int().positive(), table: Name, publication: z.string() }),
]);
export type ConfigMessage = z.infer<typeof ConfigMessage>;

export const CONFIG_MESSAGE_PREFIX = 'walcast.config';

/** A table listed in the publication by name (not FOR ALL TABLES), as the catalog has it now. */
export interface PublishedTable {
  readonly relid: number;
  readonly table: TableName;
}

/** The exposures of the one publication this instance streams. */
export class ExposureCatalog {
  private readonly exposures = new Map<number, Exposure>();
  private listed = new Map<number, TableName>();
  private byName = new Map<TableName, number>();
  /** Bumped on every change so derived per-relation shapes know when to rebuild. */
  version = 0;

  constructor(readonly publication: string, exposures: Iterable<Exposure> = [], listed: Iterable<PublishedTable> = []) {
    for (const exposure of exposures) {
      if (exposure.publication === publication) this.exposures.set(exposure.relid, exposure);
    }
    this.setListed(listed);
  }

  exposureOf(relid: number): Exposure | undefined {
    return this.exposures.get(relid);
  }

  /** Listed in the publication without walcast.expose(): readable by every tenant. */
  isListed(relid: number): boolean {
    return this.listed.has(relid);
  }

  /** The relation a client may name: exposed or listed, spelled as in the catalog. */
  resolve(table: TableName): number | undefined {
    return this.byName.get(table);
  }

  apply(message: ConfigMessage): void {
    if (message.op === 'expose' && message.exposure.publication === this.publication) {
      this.exposures.set(message.exposure.relid, message.exposure);
    } else {
      this.exposures.delete(message.op === 'expose' ? message.exposure.relid : message.relid);
    }
    this.reindex();
  }

  /** The publication's listed tables, re-read from the catalog (a poll, and on unknown relations). */
  setListed(tables: Iterable<PublishedTable>): void {
    const listed = new Map([...tables].map((entry) => [entry.relid, entry.table]));
    const same = listed.size === this.listed.size && [...listed].every(([relid, table]) => this.listed.get(relid) === table);
    if (same) return;
    this.listed = listed;
    this.reindex();
  }

  private reindex(): void {
    this.byName = new Map([...this.listed].map(([relid, table]) => [table, relid]));
    for (const exposure of this.exposures.values()) this.byName.set(exposure.table, exposure.relid);
    this.version++;
  }
}

/**
 * `schema.table` or `table` (schema public), exactly as in the catalog, to its relation
 * OID; anything else, exposed or not, existing or not, is the same 404.
 */
export function resolveTable(catalog: ExposureCatalog, name: string): number {
  const qualified = (name.includes('.') ? name : `public.${name}`) as TableName;
  const relid = catalog.resolve(qualified);
  if (relid === undefined) throw new WalcastError('TABLE_NOT_FOUND', `no exposed table named ${JSON.stringify(name.slice(0, 200))}`);
  return relid;
}
