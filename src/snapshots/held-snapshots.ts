// Paged reads: the first page exports its snapshot and its transaction is kept open here,
// so later pages, on any instance (SET TRANSACTION SNAPSHOT), read the very same data.
// Bounded in number and time: an open transaction holds back vacuum.
import type pg from 'pg';
import { WalcastError } from '../errors.js';

export interface HeldSnapshotsOptions {
  readonly max: number;
  readonly ttlMs: number;
}

export class HeldSnapshots {
  private readonly held = new Map<string, { client: pg.Client; timer: NodeJS.Timeout }>();

  constructor(private readonly options: HeldSnapshotsOptions) {}

  /** Refuses early, before a first page is read, when no more can be held. */
  assertRoom(): void {
    if (this.held.size >= this.options.max) {
      throw new WalcastError('TOO_MANY_SNAPSHOTS', `at most ${this.options.max} paged snapshots can be open at once on an instance; retry shortly`);
    }
  }

  hold(snapshotId: string, client: pg.Client): void {
    const timer = setTimeout(() => void this.release(snapshotId), this.options.ttlMs);
    timer.unref();
    this.held.set(snapshotId, { client, timer });
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
