// Which streams an event can reach (DESIGN §10, indexed dispatch): by tenant, then by
// table, then — where a stream's filter for the table has a cover (equalities of which
// every row it matches meets one: filters/equality-terms) — by the row's values. So an
// event costs what its recipients cost, not every stream of its tenant: with a policy
// `owner_id=eq.$sub`, a change reaches the stream of its owner by one lookup.
//
// A stream may be reached more than once for one event (two keys of its cover): the
// subscriber takes each event once (its cursor). A row value a change does not carry (an
// unchanged TOAST value, an old row under the default replica identity) could be any key:
// then every stream indexed on that column is a candidate, and its filter decides.
import { valueAfter, valueBefore } from '../events/change-event.js';
import type { ChangeEvent, WalcastEvent } from '../events/event.js';
import type { FilterEquality } from '../filters/index.js';
import { tenantKey, type TenantKey } from '../events/tenant-key.js';
import type { Subscriber } from './subscriber.js';

/**
 * Tenants are found by key (events/tenant-key): a stream is placed under each key of its
 * claim, one per tenant column kind, and an event is looked up under the one key of its
 * table's kind. Every claim has a `text:` key, so walking the `text:` routes visits each
 * stream once (tenant-less events, all streams).
 */
const primaryKeyOf = (claim: string) => tenantKey('text', claim)!;
const isPrimary = (key: string) => key.startsWith('text:');

interface ColumnIndex {
  readonly keyOf: (text: string) => string;
  readonly byKey: Map<string, Set<Subscriber>>;
}

interface TableRoute {
  /** Streams whose filter for the table has no cover: each event is judged by each. */
  readonly everyRow: Set<Subscriber>;
  /** Streams whose filter for the table matches no row (an empty cover): only its invalidates and truncates reach them. */
  readonly noRow: Set<Subscriber>;
  readonly byColumn: Map<string, ColumnIndex>;
  /** The placements in `everyRow` and in `noRow`, shared by their streams (bench density). */
  readonly inEveryRow: Placement;
  readonly inNoRow: Placement;
}

interface TenantRoute {
  readonly all: Set<Subscriber>;
  /** Streams of every table the tenant may read (no `tables=`). */
  readonly anyTable: Set<Subscriber>;
  readonly tables: Map<number, TableRoute>;
}

/** The sets a stream was added to for one table (under one tenant key; a table has one per key). */
interface Placement {
  readonly relid: number;
  readonly sets: readonly Set<Subscriber>[];
}

const NOT_PLACED: readonly Placement[] = [];

export class Routing {
  private readonly tenants = new Map<TenantKey, TenantRoute>();
  /** Where each stream is placed, per table (across its keys), so it can be taken out again. */
  private readonly placements = new Map<Subscriber, readonly Placement[]>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Open streams of one tenant, as its claim is spelled. */
  sizeOf(tenant: string): number {
    return this.tenants.get(primaryKeyOf(tenant))?.all.size ?? 0;
  }

  /** The streams of one tenant key (presence), or of all. */
  streamsOf(tenant?: TenantKey): Iterable<Subscriber> {
    if (tenant !== undefined) return this.tenants.get(tenant)?.all ?? [];
    return [...this.tenants].flatMap(([key, route]) => (isPrimary(key) ? [...route.all] : []));
  }

  add(subscriber: Subscriber): void {
    if (this.placements.has(subscriber)) return;
    this.count++;
    this.placements.set(subscriber, NOT_PLACED);
    for (const key of subscriber.filter.tenantKeys) {
      let route = this.tenants.get(key);
      if (!route) {
        route = { all: new Set(), anyTable: new Set(), tables: new Map() };
        this.tenants.set(key, route);
      }
      route.all.add(subscriber);
      const { tables } = subscriber.filter;
      if (tables === null) route.anyTable.add(subscriber);
      else for (const relid of tables) this.place(route, subscriber, relid);
    }
  }

  remove(subscriber: Subscriber): void {
    if (!this.placements.has(subscriber)) return;
    this.count--;
    for (const placement of this.placements.get(subscriber)!) for (const set of placement.sets) set.delete(subscriber);
    this.placements.delete(subscriber);
    for (const key of subscriber.filter.tenantKeys) {
      const route = this.tenants.get(key);
      if (!route) continue;
      route.all.delete(subscriber);
      route.anyTable.delete(subscriber);
      if (route.all.size === 0) this.tenants.delete(key);
    }
  }

  /** The stream's filter for a table changed (its row policy did). */
  reroute(subscriber: Subscriber, relid: number): void {
    if (!this.placements.has(subscriber) || subscriber.filter.tables === null || !subscriber.filter.tables.has(relid)) return;
    this.unplace(subscriber, relid);
    for (const key of subscriber.filter.tenantKeys) {
      const route = this.tenants.get(key);
      if (route) this.place(route, subscriber, relid);
    }
  }

  /** Calls `visit` for each stream the event may reach (some more than once). */
  forEachCandidate(event: WalcastEvent, visit: (subscriber: Subscriber) => void): void {
    if (event.tenantKey !== null) {
      const route = this.tenants.get(event.tenantKey);
      if (route) this.candidatesIn(route, event, visit);
      return;
    }
    // A table without a tenant column, a truncate, an invalidate for every tenant: each stream once.
    for (const [key, route] of this.tenants) if (isPrimary(key)) this.candidatesIn(route, event, visit);
  }

  private candidatesIn(route: TenantRoute, event: WalcastEvent, visit: (subscriber: Subscriber) => void): void {
    for (const subscriber of route.anyTable) visit(subscriber);
    const table = route.tables.get(event.relid);
    if (!table) return;
    for (const subscriber of table.everyRow) visit(subscriber);
    if (event.type !== 'change') for (const subscriber of table.noRow) visit(subscriber);
    for (const [column, index] of table.byColumn) {
      if (event.type !== 'change') visitAll(index, visit);
      else visitByValue(event, column, index, visit);
    }
  }

  private place(route: TenantRoute, subscriber: Subscriber, relid: number): void {
    let table = route.tables.get(relid);
    if (!table) {
      const everyRow = new Set<Subscriber>();
      const noRow = new Set<Subscriber>();
      table = { everyRow, noRow, byColumn: new Map(), inEveryRow: { relid, sets: [everyRow] }, inNoRow: { relid, sets: [noRow] } };
      route.tables.set(relid, table);
    }
    const cover = subscriber.filterOf(relid)?.cover;
    const keyed = cover?.flatMap((equality) => keySets(table, equality));
    const placement = keyed === undefined ? table.inEveryRow : keyed.length === 0 ? table.inNoRow : { relid, sets: keyed };
    for (const set of placement.sets) set.add(subscriber);
    // Copied, not pushed: an array grown by push keeps room for 17.
    this.placements.set(subscriber, [...this.placements.get(subscriber)!, placement]);
  }

  private unplace(subscriber: Subscriber, relid: number): void {
    const placed = this.placements.get(subscriber);
    if (!placed) return;
    for (const placement of placed) if (placement.relid === relid) for (const set of placement.sets) set.delete(subscriber);
    this.placements.set(
      subscriber,
      placed.filter((placement) => placement.relid !== relid),
    );
    // Empty sets of keys are left: a key's set is reused by the next stream on it, and
    // the maps are bounded by the keys streams have asked for.
  }
}

function keySets(table: TableRoute, equality: FilterEquality): Set<Subscriber>[] {
  let index = table.byColumn.get(equality.column);
  if (!index) {
    index = { keyOf: equality.keyOf, byKey: new Map() };
    table.byColumn.set(equality.column, index);
  }
  const sets: Set<Subscriber>[] = [];
  for (const key of equality.keys) {
    let set = index.byKey.get(key);
    if (!set) {
      set = new Set();
      index.byKey.set(key, set);
    }
    sets.push(set);
  }
  return sets;
}

function visitAll(index: ColumnIndex, visit: (subscriber: Subscriber) => void): void {
  for (const set of index.byKey.values()) for (const subscriber of set) visit(subscriber);
}

/** The streams keyed by the row's value before and after the change; all of them when a value is unknown. */
function visitByValue(event: ChangeEvent, column: string, index: ColumnIndex, visit: (subscriber: Subscriber) => void): void {
  const { image } = event;
  const at = image.shape.indexOf.get(column);
  if (at === undefined) return visitAll(index, visit);
  const values: (string | null | undefined)[] = [];
  if (image.new) values.push(valueAfter(image, at));
  if (event.op !== 'insert') values.push(image.old ? valueBefore(image, at) : undefined);
  for (const value of values) {
    if (value === undefined) return visitAll(index, visit);
    if (value === null) continue;
    const set = index.byKey.get(index.keyOf(value));
    if (set) for (const subscriber of set) visit(subscriber);
  }
}
