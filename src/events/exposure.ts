// What is exposed, per table: its tenant column, key and hidden columns. walcast.expose()
// alone decides: its rows in walcast.exposed_tables reach every server in stream order
// (config-rows.ts), so an event is always shaped by the configuration of its moment. A
// table that is published but not exposed streams to nobody (DESIGN §6: fail closed).
import { z } from 'zod';
import { WalcastError } from '../errors.js';

/** `schema.table`, spelled as in the catalog. */
export type TableName = `${string}.${string}` & { readonly __brand: 'TableName' };

export function tableName(schema: string, name: string): TableName {
  return `${schema}.${name}` as TableName;
}

const Name = z.string().transform((value) => value as TableName);

/** One exposed table, as `walcast.exposure_of` (sql/002) describes it. Columns by current name. */
export const Exposure = z.object({
  relid: z.number().int().positive(),
  table: Name,
  publication: z.string(),
  tenantColumn: z.string().nullable(),
  versionColumn: z.string().nullable(),
  primaryKey: z.array(z.string()),
  hiddenColumns: z.array(z.string()),
  writableColumns: z.array(z.string()).nullable(),
  /** A row policy (DESIGN §10): who of a tenant sees which rows. Absent from exposures older than sql/004. */
  policy: z.string().nullable().default(null),
  /** Columns set from the token on insert: column → `$sub` or `$claim.NAME`. */
  setOnInsert: z.record(z.string(), z.string()).nullable().default(null),
});
export type Exposure = z.infer<typeof Exposure>;

/** A change of configuration, as a row of walcast.exposed_tables brings it. */
export type ConfigChange = { readonly op: 'expose'; readonly exposure: Exposure } | { readonly op: 'conceal'; readonly relid: number };

/**
 * A tenant column that no longer exists (dropped without the DDL event triggers that
 * refuse it): the table is answered by no route and its changes reach nobody.
 */
export const DROPPED_TENANT_COLUMN = '';

/** The exposures of the one publication this instance streams. */
export class ExposureCatalog {
  private readonly exposures = new Map<number, Exposure>();
  private byName = new Map<TableName, number>();
  /** Bumped on every change so derived per-relation shapes know when to rebuild. */
  version = 0;

  /** `configRelid`: walcast.exposed_tables, whose rows in the stream are these exposures. */
  constructor(
    readonly publication: string,
    exposures: Iterable<Exposure> = [],
    readonly configRelid?: number,
  ) {
    for (const exposure of exposures) {
      if (exposure.publication === publication) this.exposures.set(exposure.relid, exposure);
    }
    this.reindex();
  }

  exposureOf(relid: number): Exposure | undefined {
    return this.exposures.get(relid);
  }

  /** Every exposure of the publication now. */
  all(): IterableIterator<Exposure> {
    return this.exposures.values();
  }

  /** The exposed relation a client may name, spelled as in the catalog. */
  resolve(table: TableName): number | undefined {
    return this.byName.get(table);
  }

  apply(change: ConfigChange): void {
    if (change.op === 'expose' && change.exposure.publication === this.publication) {
      this.exposures.set(change.exposure.relid, change.exposure);
    } else {
      this.exposures.delete(change.op === 'expose' ? change.exposure.relid : change.relid);
    }
    this.reindex();
  }

  private reindex(): void {
    this.byName = new Map();
    for (const exposure of this.exposures.values()) {
      if (exposure.tenantColumn !== DROPPED_TENANT_COLUMN) this.byName.set(exposure.table, exposure.relid);
    }
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
