// GET /v1/stream: the SSE stream of the caller's tenant, resumable with Last-Event-ID.
// A plain node:http handler, not an express route: express keeps ~5 KiB of state per
// request alive for as long as a stream lasts (bench density).
import type { RequestHead, StreamExchange } from '../http/exchange.js';
import { z } from 'zod';
import { authenticate } from '../auth/require-auth.js';
import type { Principal, VerifyToken } from '../auth/jwt.js';
import { KEYS_UNAVAILABLE_RETRY_SECONDS } from '../auth/key-set.js';
import { isWalcastError, WalcastError } from '../errors.js';
import type { Lsn } from '../replication/lsn.js';
import { parseEventId } from '../events/event-id.js';
import { isNewTo, MAX_CURSOR_LENGTH, parseResumePosition, type ResumePosition } from '../events/resume-point.js';
import { resolveTable, type ExposureCatalog } from '../events/exposure.js';
import type { RetentionLog } from '../events/retention.js';
import { HEADER, QUERY, ROOM_NAME, SSE_EVENT, SSE_RETRY_MS, TABLE_WHERE_PREFIX } from '../wire/names.js';
import { parseQuery, queryOf } from '../http/validate.js';
import type { Metrics } from '../http/metrics.js';
import type { Logger } from '../log.js';
import type { Hub } from './hub.js';
import { formatSse, formatSseRetry } from './sse.js';
import { Subscriber, type CloseReason, type TableFilter } from './subscriber.js';
import { combineFilters, FILTER_LIMITS, type ClientFilters, type Policies } from '../filters/index.js';
import type { DatabasePosition } from './database-position.js';
import { LRUCache } from 'lru-cache';
import { claimTenantKeys } from '../events/tenant-key.js';

const MAX_TABLES = 100;
const MAX_WHERE_LENGTH = FILTER_LIMITS.maxLength;

const StreamQuery = z.object({
  [QUERY.tables]: z.string().max(20_000).optional(),
  [QUERY.lastEventId]: z.string().max(MAX_CURSOR_LENGTH).optional(),
  [QUERY.where]: z.union([z.string().max(MAX_WHERE_LENGTH), z.array(z.string().max(MAX_WHERE_LENGTH))]).optional(),
  [QUERY.rooms]: z.string().max(2_100).optional(),
});

export interface StreamRouteDeps {
  readonly verifyToken: VerifyToken;
  readonly catalog: ExposureCatalog;
  readonly retention: RetentionLog;
  readonly hub: Hub;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** False while the instance drains: a new stream is told to retry (elsewhere) and closed. */
  readonly accepting: () => boolean;
  readonly maxLagBytes: number;
  readonly maxClients: number;
  readonly maxClientsPerTenant: number;
  /** Clients' `where=`, per table. */
  readonly filters: ClientFilters;
  /** Tables' row policies, per principal. */
  readonly policies: Policies;
  /** Streams one user (`sub` within a tenant) may hold open here: one user cannot take a tenant's share. */
  readonly maxClientsPerUser: number;
  /** Asked whether a resume point past this instance's head can come from this database at all. */
  readonly databasePosition: DatabasePosition;
  /** The key presence rooms know a tenant by (events/tenant-key presenceTenantKind). */
  readonly presenceTenant: (claim: string) => string;
  /** The `presence` data a stream following a room starts with: who is there now. */
  readonly presenceSync: (tenant: string, room: string) => string;
}

const MAX_ROOMS = 20;

function requestedRooms(list: string | undefined): string[] {
  if (list === undefined || list === '') return [];
  const rooms = [...new Set(list.split(','))];
  if (rooms.length > MAX_ROOMS) throw new WalcastError('INVALID_PARAMETER', `at most ${MAX_ROOMS} rooms per stream`);
  for (const room of rooms) {
    if (!ROOM_NAME.test(room))
      throw new WalcastError('INVALID_PARAMETER', `rooms: ${JSON.stringify(room.slice(0, 100))} is not a room name (1 to 100 printable characters, no commas)`);
  }
  return rooms;
}

/** Requested tables by relation OID, with the name the client used; null: all of them. */
function requestedTables(catalog: ExposureCatalog, list: string | undefined): ReadonlyMap<number, string> | null {
  if (list === undefined || list === '') return null;
  const names = list.split(',');
  if (names.length > MAX_TABLES) throw new WalcastError('INVALID_PARAMETER', `at most ${MAX_TABLES} tables per stream`);
  return new Map(names.map((name) => [resolveTable(catalog, name.trim()), name.trim()]));
}

/** `where.<table>=` parameters by the table's name as the client spelled it (DESIGN §11). */
function tableWheres(request: RequestHead): Map<string, string[]> {
  const byTable = new Map<string, string[]>();
  for (const [name, value] of Object.entries(queryOf(request))) {
    if (!name.startsWith(TABLE_WHERE_PREFIX) || value === undefined) continue;
    const texts = [value].flat();
    if (texts.some((text) => text.length > MAX_WHERE_LENGTH))
      throw new WalcastError('INVALID_PARAMETER', `${name.slice(0, 120)}: at most ${MAX_WHERE_LENGTH} characters`);
    byTable.set(name.slice(TABLE_WHERE_PREFIX.length), texts);
  }
  if (byTable.size > MAX_TABLES) throw new WalcastError('INVALID_PARAMETER', `at most ${MAX_TABLES} where.<table> filters per stream`);
  return byTable;
}

/**
 * The `where=` texts of each filtered table: `where=` applies to every requested table,
 * and `where.<table>=` to that table alone (ANDed with `where=`). A table-filter must name
 * a table of the stream.
 */
function requestedWhere(
  deps: StreamRouteDeps,
  request: RequestHead,
  texts: string | string[] | undefined,
  tables: ReadonlyMap<number, string> | null,
): Map<number, { readonly name: string; readonly texts: string[] }> {
  const perTable = tableWheres(request);
  const common = texts === undefined ? [] : [texts].flat();
  if (common.length > 0 && !tables) throw new WalcastError('INVALID_PARAMETER', 'where: name the tables it applies to with tables=');
  const conditions = new Map<number, { name: string; texts: string[] }>();
  if (common.length > 0) for (const [relid, name] of tables ?? []) conditions.set(relid, { name, texts: [...common] });
  for (const [name, own] of perTable) {
    const relid = resolveTable(deps.catalog, name);
    if (tables && !tables.has(relid)) throw new WalcastError('INVALID_PARAMETER', `where.${name.slice(0, 100)}: that table is not in tables=`);
    const entry = conditions.get(relid) ?? { name, texts: [...common] };
    entry.texts.push(...own);
    conditions.set(relid, entry);
  }
  return conditions;
}

/**
 * How a stream judges the rows of each table: the table's row policy for its principal
 * (DESIGN §10) AND its `where=`. A table with neither has no predicate: every row of the
 * tenant. `predicateOf` is asked again when a table's policy changes.
 */
async function streamPredicates(
  deps: StreamRouteDeps,
  principal: Principal,
  where: WhereTexts,
  tables: ReadonlyMap<number, string> | null,
): Promise<{ predicates: Map<number, TableFilter>; predicateOf: (relid: number) => Promise<TableFilter | undefined> }> {
  // Kept for the stream's life (a policy may change): it holds the claims and the
  // `where=` texts, not the principal or the request.
  const predicateOf = tablePredicate.bind(undefined, deps.policies, deps.filters, principal.claims, where.size === 0 ? NO_WHERE : where);
  const relids = new Set([...(tables?.keys() ?? [...deps.catalog.all()].map((exposure) => exposure.relid)), ...where.keys()]);
  const predicates = new Map<number, TableFilter>();
  for (const relid of relids) {
    const predicate = await predicateOf(relid);
    if (predicate) predicates.set(relid, predicate);
  }
  return { predicates, predicateOf };
}

type WhereTexts = ReadonlyMap<number, { readonly name: string; readonly texts: string[] }>;
const NO_WHERE: WhereTexts = new Map();

/** One table's predicate for a principal: its row policy AND the stream's `where=` for it. */
async function tablePredicate(
  policies: Policies,
  filters: ClientFilters,
  claims: Principal['claims'],
  where: WhereTexts,
  relid: number,
): Promise<TableFilter | undefined> {
  const policy = await policies.forTable(relid, claims);
  const own = where.get(relid);
  const filter = own ? await filters.forTable(relid, own.name, own.texts, claims) : undefined;
  const parts = [policy, filter].filter((part) => part !== undefined);
  if (parts.length === 0) return undefined;
  return parts.length === 1 ? parts[0]! : combineFilters(parts);
}

/** The header is what a browser sends on reconnect, newer than the URL: it wins (DESIGN §4). */
function resumePositionOf(request: RequestHead, fromQuery: string | undefined): ResumePosition | undefined {
  const header = request.headers[HEADER.lastEventId];
  const text = typeof header === 'string' && header !== '' ? header : fromQuery;
  return text === undefined || text === '' ? undefined : parseResumePosition(text);
}

/** The LSN a resume point says the client has seen up to: an event's commit, a snapshot's end. */
function lsnOf(position: ResumePosition): Lsn {
  return position.kind === 'event' ? parseEventId(position.id).commitLsn : position.cursor.high;
}

/**
 * While the key set cannot be fetched, nothing is "invalid": an EventSource never retries a
 * non-200 answer, so it gets a 200 with only a `retry:` hint and the end of the stream,
 * and comes back when the hint says (DESIGN §5).
 */
async function authenticateOrRetryLater(deps: StreamRouteDeps, exchange: StreamExchange): Promise<Principal | undefined> {
  try {
    return await authenticate(deps.verifyToken, exchange.request);
  } catch (error) {
    if (!isWalcastError(error) || error.code !== 'AUTH_UNAVAILABLE') throw error;
    retryLater(exchange, KEYS_UNAVAILABLE_RETRY_SECONDS * 1000);
    return undefined;
  }
}

/** 200 with only a `retry:` line, then the end: an EventSource comes back after `retryMs` (elsewhere, maybe). */
function retryLater(exchange: StreamExchange, retryMs: number): void {
  const sink = exchange.open(SSE_HEADERS);
  sink.write(formatSseRetry(retryMs));
  sink.end();
}

/** The response headers of a stream (DESIGN §3); the server adds what its edge needs. */
const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
} as const;

export type StreamHandler = (exchange: StreamExchange) => Promise<void>;

export function streamHandler(deps: StreamRouteDeps): StreamHandler {
  /** Open streams per user (`tenant NUL sub`); counted here, released when the stream closes. */
  const perUser = new Map<string, number>();
  // One set of callbacks for every stream, not closures per stream: a stream lives for
  // hours, and what a closure captures (the request, its token) would live with it (bench density).
  const streamEvents = {
    onSent: (count: number) => deps.metrics.eventsSent.add(count),
    onRebound: (rebound: Subscriber, relid: number) => deps.hub.reroute(rebound, relid),
    onClose: (closed: Subscriber, reason: CloseReason, error?: unknown) => {
      const user = userOf(closed.filter.tenant, closed.filter.sub);
      const left = (perUser.get(user) ?? 1) - 1;
      if (left > 0) perUser.set(user, left);
      else perUser.delete(user);
      deps.hub.remove(closed);
      if (reason === 'slow' || reason === 'lagged') deps.metrics.slowClientDisconnects.inc();
      if (reason === 'fault') {
        deps.metrics.streamFaults.inc();
        deps.log.error({ err: error, tenant: closed.filter.tenant }, 'a fault ended one stream; the others go on');
      }
    },
  };
  // Sets equal across streams are shared: a tenant's keys, a `tables=` list.
  const keysOf = interned((tenant: string) => new Set(claimTenantKeys(tenant)));
  const tableSetOf = interned((relids: string) => new Set(relids.split(',').map(Number)));

  return async function openStream(exchange) {
    const { request } = exchange;
    const principal = await authenticateOrRetryLater(deps, exchange);
    if (!principal) return;
    const query = parseQuery(StreamQuery, request);
    const rooms = requestedRooms(query[QUERY.rooms]);
    const tables = requestedTables(deps.catalog, query[QUERY.tables]);
    const { predicates, predicateOf } = await streamPredicates(deps, principal, requestedWhere(deps, request, query[QUERY.where], tables), tables);
    const position = resumePositionOf(request, query[QUERY.lastEventId]);
    // Past this instance's head: a faster instance (wait), or another database (reset).
    const head = deps.retention.headCommitLsn();
    const fromElsewhere = position !== undefined && (head === undefined || lsnOf(position) > head) && (await deps.databasePosition.isAhead(lsnOf(position)));
    if (exchange.gone) return;
    // 200, not 503: an EventSource retries only a stream that opened (DESIGN §4).
    if (!deps.accepting()) return retryLater(exchange, SSE_RETRY_MS);
    // Refused rather than degrading everyone's streams; an EventSource does not retry these.
    if (deps.hub.size() >= deps.maxClients) {
      throw new WalcastError('SERVER_BUSY', 'this instance holds as many streams as it may; connect to another or retry later', {
        headers: { 'retry-after': '10' },
      });
    }
    if (deps.hub.sizeOf(principal.tenant) >= deps.maxClientsPerTenant) {
      throw new WalcastError('TOO_MANY_STREAMS', `at most ${deps.maxClientsPerTenant} open streams per tenant on an instance`, {
        headers: { 'retry-after': '10' },
      });
    }
    const user = userOf(principal.tenant, principal.sub);
    if ((perUser.get(user) ?? 0) >= deps.maxClientsPerUser) {
      throw new WalcastError('TOO_MANY_STREAMS', `at most ${deps.maxClientsPerUser} open streams per user on an instance`, {
        headers: { 'retry-after': '10' },
      });
    }
    const resume = position === undefined ? undefined : fromElsewhere ? ({ kind: 'reset' } as const) : deps.retention.resumeFrom(position);

    const sink = exchange.open(SSE_HEADERS);
    sink.write(formatSseRetry(SSE_RETRY_MS));
    if (resume?.kind === 'reset') {
      const reason = fromElsewhere
        ? "the requested position is past this database's WAL (a restored or another database); refetch your snapshot"
        : 'the requested position is no longer retained; refetch your snapshot';
      sink.write(formatSse({ event: SSE_EVENT.reset, data: JSON.stringify({ reason }) }));
    }

    perUser.set(user, (perUser.get(user) ?? 0) + 1);

    // Spelled out, not spread: a spread object gets a hidden class of its own, ~0.4 KiB a stream.
    const subscriber = new Subscriber({
      onSent: streamEvents.onSent,
      onRebound: streamEvents.onRebound,
      onClose: streamEvents.onClose,
      sink,
      filter: {
        tenant: principal.tenant,
        sub: principal.sub,
        tenantKeys: keysOf(principal.tenant),
        tables: tables && tableSetOf([...tables.keys()].sort((a, b) => a - b).join(',')),
        predicates: predicates.size === 0 ? NO_PREDICATES : predicates,
        rooms: rooms.length === 0 ? NO_ROOMS : new Set(rooms),
      },
      rebind: predicateOf,
      isNew: position && resume?.kind === 'resume' ? isNewTo(position) : undefined,
      startSeq: resume?.kind === 'resume' ? resume.seq : deps.retention.nextSeq,
      expiresAt: principal.expiresAt,
      maxLagBytes: deps.maxLagBytes,
    });
    exchange.onClose(subscriber);
    for (const room of rooms) {
      subscriber.write(formatSse({ event: SSE_EVENT.presence, data: deps.presenceSync(deps.presenceTenant(principal.tenant), room) }));
    }
    deps.hub.add(subscriber);
  };
}

/** `make`, remembered for the last thousand keys asked. */
function interned<T extends {}>(make: (key: string) => T): (key: string) => T {
  const cache = new LRUCache<string, T>({ max: 1_000, memoMethod: make });
  return (key) => cache.memo(key);
}

const userOf = (tenant: string, sub: string) => `${tenant}\u0000${sub}`;
const NO_PREDICATES: ReadonlyMap<number, TableFilter> = new Map();
const NO_ROOMS: ReadonlySet<string> = new Set();
