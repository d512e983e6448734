// The database connections one instance opens, by what they serve. Reads that users
// drive (snapshots) have pools of their own, so no number of readers, slow or stalled,
// can take a connection that replication, catalog lookups, edits or presence need.
import pg from 'pg';
import type { Logger } from '../log.js';

export const CONNECTION_BUDGET = {
  /** START_REPLICATION: one, always. */
  replication: 1,
  /** Catalog lookups (tables, types, exposures), WAL positions, housekeeping. */
  catalog: 3,
  /** Edits and presence heartbeats. */
  writes: 4,
  /** Reading the values of clients' filters through Postgres (cached; one per new filter). */
  filters: 2,
  /** Snapshot reads and later pages of paged reads, each for the read's duration. */
  reads: 8,
  /** First pages of paged reads keep their transaction open for later pages (HeldSnapshots). */
  heldSnapshots: 8,
  /** Short-lived, one at a time: slot creation or recovery, migrations, the shutdown probe. */
  transient: 1,
} as const;

/** The most connections an instance opens at once (docs/operators.md states it). */
export const MAX_CONNECTIONS = Object.values(CONNECTION_BUDGET).reduce((sum, count) => sum + count, 0);

/** A reader waiting longer than this for a connection is told the instance is busy. */
const READ_WAIT_MS = 10_000;

export interface Pools {
  readonly catalog: pg.Pool;
  readonly writes: pg.Pool;
  readonly reads: pg.Pool;
  readonly filters: pg.Pool;
  end(): Promise<void>;
}

export function createPools(connectionString: string, log: Logger): Pools {
  const pool = (name: string, max: number, extra: pg.PoolConfig = {}) => {
    const created = new pg.Pool({ connectionString, max, application_name: `walcast ${name}`, ...extra });
    created.on('error', (error) => log.warn({ err: error, pool: name }, 'idle database connection failed'));
    return created;
  };
  const pools = {
    catalog: pool('catalog', CONNECTION_BUDGET.catalog),
    writes: pool('writes', CONNECTION_BUDGET.writes),
    reads: pool('reads', CONNECTION_BUDGET.reads, { connectionTimeoutMillis: READ_WAIT_MS }),
    filters: pool('filters', CONNECTION_BUDGET.filters, { connectionTimeoutMillis: READ_WAIT_MS }),
  };
  return {
    ...pools,
    async end() {
      await Promise.all(Object.values(pools).map((each) => each.end()));
    },
  };
}
