// Paged reads: the first page exports its snapshot and its transaction is kept open here,
// so later pages, on any instance (SET TRANSACTION SNAPSHOT), read the very same data.
// Bounded in number and time: an open transaction holds back vacuum. A place is reserved
// before the first page is read, so concurrent first pages never hold more than `max`.
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

export class HeldSnapshots {
  private readonly held = new Map<string, { client: pg.Client; timer: NodeJS.Timeout }>();
  private reserved = 0;

  constructor(private readonly options: HeldSnapshotsOptions) {}

  get size(): number {
    return this.held.size;
  }

  /** Refuses before a first page is read when no more can be held. */
  reserve(): HeldPlace {
    if (this.held.size + this.reserved >= this.options.max) {
      throw new WalcastError('TOO_MANY_SNAPSHOTS', `at most ${this.options.max} paged snapshots can be open at once on an instance; retry shortly`, {
        headers: { 'retry-after': '5' },
      });
    }
    this.reserved++;
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
        const timer = setTimeout(() => void this.release(snapshotId), this.options.ttlMs);
        timer.unref();
        this.held.set(snapshotId, { client, timer });
        // Its backend ended (a timeout, a failover): the place is free again.
        client.once('error', () => void this.release(snapshotId));
      },
      cancel: () => void settle(),
    };
  }

  /** The last page was read (here), or the time is up. */
  async release(snapshotId: string): Promise<void> {
    const entry = this.held.get(snapshotId);
    if (!entry) return;
    this.held.delete(snapshotId);
    clearTimeout(entry.timer);
    await entry.client.end().catch(() => undefined);
  }

  async releaseAll(): Promise<void> {
    await Promise.all([...this.held.keys()].map((id) => this.release(id)));
  }
}
