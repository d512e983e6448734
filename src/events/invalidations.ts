// The `invalidate` events that stand for row events walcast does not send one by one: a
// transaction past WALCAST_MAX_TXN_CHANGES, or a change it could not decode (DESIGN §2,
// §3). One per (table, tenant), numbered 0, 1, 2… in the order of the first change each
// stands for, so a transaction of any size has valid, identical IDs on every instance.
// Past MAX_PAIRS pairs (one UPDATE across a million tenants) they become one per table
// for every tenant: a client told to refetch more than it needed loses nothing.
import type { TenantKey } from './tenant-key.js';
import type { InvalidateReason, TableEvent, TransactionContext } from './event.js';
import { formatEventId } from './event-id.js';
import type { TableName } from './exposure.js';

/** The table an invalidate names. */
export interface TableRef {
  readonly relid: number;
  readonly table: TableName;
}

/** More pairs than this in one transaction and they collapse into one per table. */
export const MAX_PAIRS = 10_000;

interface Pair {
  readonly shape: TableRef;
  /** null: every tenant. */
  readonly tenant: string | null;
  /** How streams are routed to it (events/tenant-key); null with `tenant`. */
  readonly tenantKey: TenantKey | null;
  /** policy_changed wins over any other reason: streams bind their predicate again on it. */
  reason: InvalidateReason;
}

export class Invalidations {
  private readonly byTable = new Map<number, Map<string | null, Pair>>();
  private order: Pair[] = [];
  private wholeTables = false;

  get size(): number {
    return this.order.length;
  }

  add(shape: TableRef, tenant: { readonly text: string; readonly key: TenantKey } | null, reason: InvalidateReason): void {
    const key = this.wholeTables ? null : (tenant?.text ?? null);
    let tenants = this.byTable.get(shape.relid);
    if (!tenants) this.byTable.set(shape.relid, (tenants = new Map()));
    const existing = tenants.get(key);
    if (existing) {
      if (reason === 'policy_changed') existing.reason = reason;
      return;
    }
    const pair: Pair = { shape, tenant: key, tenantKey: key === null ? null : tenant!.key, reason };
    tenants.set(key, pair);
    this.order.push(pair);
    if (!this.wholeTables && this.order.length > MAX_PAIRS) this.collapse();
  }

  /** One per table, each where its table's first pair stood. */
  private collapse(): void {
    this.wholeTables = true;
    const first = new Map<number, Pair>();
    for (const pair of this.order) {
      const kept = first.get(pair.shape.relid);
      if (!kept) first.set(pair.shape.relid, { ...pair, tenant: null, tenantKey: null });
      else if (pair.reason === 'policy_changed') kept.reason = pair.reason;
    }
    this.order = [...first.values()];
    this.byTable.clear();
    for (const pair of this.order) this.byTable.set(pair.shape.relid, new Map([[null, pair]]));
  }

  events(txn: TransactionContext): TableEvent[] {
    return this.order.map((pair, index) => invalidateEvent(pair, index, txn));
  }
}

/** One invalidate event; `position` is its place among the transaction's events. */
export function invalidateEvent(pair: Pair, position: number, txn: TransactionContext): TableEvent {
  const id = formatEventId(txn.commitLsn, position);
  const { shape, tenant, tenantKey, reason } = pair;
  return {
    id,
    type: 'invalidate',
    reason,
    tenant,
    tenantKey,
    relid: shape.relid,
    table: shape.table,
    commitLsn: txn.commitLsn,
    xid: txn.xid,
    json: JSON.stringify({ id, table: shape.table, tenant, reason, lsn: txn.lsnText, committedAt: txn.committedAt }),
  };
}
