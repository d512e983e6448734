// Which streams carry which tables. Every subscription of a browser states its interests
// (a table and its filter); they share as few streams as possible: one, unless two want
// the same table under different filters (a stream filters each table one way), in which
// case the second filter goes to a second stream. Rooms ride on the first stream.
import { QUERY, TABLE_WHERE_PREFIX } from '../wire/names.js';

/** A table (`schema.table`) and the `where=` conditions a subscription reads it with. */
export interface Interest {
  readonly table: string;
  readonly where: readonly string[];
}

/** One string per (table, filter); conditions are ANDed, so their order does not matter. */
export type InterestKey = string & { readonly __brand: 'InterestKey' };

export function interestKey(interest: Interest): InterestKey {
  return `${interest.table}?${[...interest.where].sort().join('&')}` as InterestKey;
}

export interface StreamPlan {
  /** Equal for two plans that would open the same stream. */
  readonly signature: string;
  readonly tables: ReadonlyMap<string, Interest>;
  readonly keys: readonly InterestKey[];
  readonly rooms: readonly string[];
}

function planOf(tables: Map<string, Interest>, rooms: readonly string[]): StreamPlan {
  const keys = [...tables.values()].map(interestKey).sort();
  return { signature: JSON.stringify([keys, rooms]), tables, keys, rooms };
}

/** The fewest streams that carry every interest, in an order that does not depend on who asked first. */
export function planStreams(interests: Iterable<Interest>, rooms: Iterable<string>): StreamPlan[] {
  const unique = new Map<InterestKey, Interest>();
  for (const interest of interests) unique.set(interestKey(interest), interest);
  const groups: Map<string, Interest>[] = [];
  for (const key of [...unique.keys()].sort()) {
    const interest = unique.get(key)!;
    let group = groups.find((candidate) => !candidate.has(interest.table));
    if (!group) groups.push((group = new Map()));
    group.set(interest.table, interest);
  }
  const roomList = [...new Set(rooms)].sort();
  return groups.map((group, index) => planOf(group, index === 0 ? roomList : []));
}

/**
 * The stream's path and query. One filter shared by every table is sent as `where=`
 * (what every walcast understands); otherwise each table's own as `where.<table>=`.
 */
export function streamPath(plan: StreamPlan): string {
  const query = new URLSearchParams({ [QUERY.tables]: [...plan.tables.keys()].join(',') });
  const interests = [...plan.tables.values()];
  const filters = interests.map((interest) => [...interest.where].sort().join('&'));
  if (filters.every((filter) => filter === filters[0])) {
    for (const condition of interests[0]?.where ?? []) query.append(QUERY.where, condition);
  } else {
    for (const interest of interests) for (const condition of interest.where) query.append(`${TABLE_WHERE_PREFIX}${interest.table}`, condition);
  }
  if (plan.rooms.length > 0) query.set(QUERY.rooms, plan.rooms.join(','));
  return `/v1/stream?${query.toString()}`;
}
