// Paged reads: the first page exports its snapshot and its transaction is kept open here,
// so later pages, on any instance (SET TRANSACTION SNAPSHOT), read the very same data.
// Bounded in number and time: an open transaction holds back vacuum. A place is reserved
// before the first page is read, so concurrent first pages never hold more than `max`.
// Each tenant holds at most a share of them: one user reading first pages in a loop
// would otherwise take every place for the TTL, and every other tenant's paged reads with it.
import type pg from 'pg';
import { WalcastError } from '../errors.js';

export interface HeldSnapshotsOptions {
  readonly max: number;
  readonly ttlMs: number;
}

/** A place for one held snapshot, taken before its first page is read. */
export interface HeldPlace {
  /** The first page had more: keep its transaction until the last page or the TTL. */
  hold(snapshotId: string, client: pg.Client): void;
  /** Nothing to hold (one page was all, or the read failed). Safe after hold(). */
  cancel(): void;
}

interface Held {
  readonly client: pg.Client;
  readonly timer: NodeJS.Timeout;
  readonly tenant: string;
}

export class HeldSnapshots {
  private readonly held = new Map<string, Held>();
  private reserved = 0;
  /** Places per tenant, held or reserved. */
  private readonly byTenant = new Map<string, number>();
  private readonly share: number;

  constructor(private readonly options: HeldSnapshotsOptions) {
    this.share = Math.max(1, Math.ceil(options.max / 4));
  }

  get size(): number {
    return this.held.size;
  }

  /**
   * Refuses (503) before a first page is read when no more can be held; undefined when the
   * tenant holds its share already: that read is then not paged (`limit` only truncates,
   * and a client reads the table whole).
   */
  reserve(tenant: string): HeldPlace | undefined {
    if ((this.byTenant.get(tenant) ?? 0) >= this.share) return undefined;
    if (this.held.size + this.reserved >= this.options.max) {
      throw new WalcastError('TOO_MANY_SNAPSHOTS', `at most ${this.options.max} paged snapshots can be open at once on an instance; retry shortly`, {
        headers: { 'retry-after': '5' },
      });
    }
    this.reserved++;
    this.count(tenant, 1);
    let settled = false;
    const settle = () => {
      if (settled) return false;
      settled = true;
      this.reserved--;
      return true;
    };
    return {
      hold: (snapshotId, client) => {
        if (!settle()) return;
        const timer = setTimeout(() => void this.release(snapshotId, tenant), this.options.ttlMs);
        timer.unref();
        this.held.set(snapshotId, { client, timer, tenant });
        // Its backend ended (a timeout, a failover): the place is free again.
        client.once('error', () => void this.release(snapshotId, tenant));
      },
      cancel: () => {
        if (settle()) this.count(tenant, -1);
      },
    };
  }

  /** The last page was read (here, by the tenant that holds it), or the time is up. */
  async release(snapshotId: string, tenant: string): Promise<void> {
    const entry = this.held.get(snapshotId);
    if (!entry || entry.tenant !== tenant) return;
    this.held.delete(snapshotId);
    this.count(tenant, -1);
    clearTimeout(entry.timer);
    await entry.client.end().catch(() => undefined);
  }

  async releaseAll(): Promise<void> {
    await Promise.all([...this.held].map(([id, { tenant }]) => this.release(id, tenant)));
  }

  private count(tenant: string, by: number): void {
    const places = (this.byTenant.get(tenant) ?? 0) + by;
    if (places > 0) this.byTenant.set(tenant, places);
    else this.byTenant.delete(tenant);
  }
}
