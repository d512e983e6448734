// The composition root: one walcast instance wired around a database. Every piece gets
// its dependencies here and nowhere else; lifecycle (database, slot recovery, chores,
// the HTTP server) lives in lifecycle/. createWalcast gives the routes to mount in an
// app of one's own; startWalcast serves them on a server of their own (the CLI, tests).
import type { Server } from 'node:http';
import type { Http2SecureServer } from 'node:http2';
import type { Router } from 'express';
import { createTokenVerifier, type VerifyToken } from './auth/jwt.js';
import type { Config } from './config/config.js';
import { editRoutes } from './edits/edit-routes.js';
import { forgetExpiredKeys } from './edits/idempotency.js';
import { WalcastError } from './errors.js';
import { createEventPipeline } from './events/event-pipeline.js';
import { ExposureCatalog } from './events/exposure.js';
import { clientFilters, createFilterEngine, createPolicies, describeFilterColumns } from './filters/index.js';
import { RetentionLog } from './events/retention.js';
import { createApp, STREAM_PATH, type WalcastHandler } from './http/app.js';
import { corsHeaders } from './http/cors.js';
import type { RawStreamsOptions } from './http/raw-streams.js';
import { createMetrics } from './http/metrics.js';
import { createRateLimiter } from './http/rate-limit.js';
import { CONNECTION_BUDGET, createPools } from './lifecycle/connections.js';
import { prepareDatabase } from './lifecycle/database.js';
import { announce, reapOrphans, slotReports, type SlotReport } from './lifecycle/fleet.js';
import { listen } from './lifecycle/http-server.js';
import { startMaintenance } from './lifecycle/maintenance.js';
import { slotRecovery } from './lifecycle/slot-recovery.js';
import { createLogger, type Logger } from './log.js';
import { presenceEmitter } from './presence/emit.js';
import { createPresence } from './presence/presence.js';
import { presenceRoutes } from './presence/presence-routes.js';
import { PRESENCE_MESSAGE_PREFIX } from './presence/rooms.js';
import { formatLsn, type Lsn } from './replication/lsn.js';
import { startReplication } from './replication/replication-stream.js';
import { ensureSlot, serverIsStopping } from './replication/slot.js';
import { HeldSnapshots } from './snapshots/held-snapshots.js';
import { ReadGate } from './snapshots/read-gate.js';
import { snapshotRoutes } from './snapshots/snapshot-routes.js';
import { describeTable } from './sql/columns.js';
import { loadConfigRelid, loadExposures } from './sql/exposure-store.js';
import { loadPresenceKey } from './sql/presence-key.js';
import { TypeStore } from './sql/type-store.js';
import { walFlushPosition, walInsertPosition } from './sql/wal-position.js';
import { createDatabasePosition, readDatabasePosition } from './streams/database-position.js';
import { createHub } from './streams/hub.js';
import { tenantKey, type TenantKey, type TenantKind } from './events/tenant-key.js';
import { presenceKindOf } from './sql/tenant-kinds.js';
import { streamHandler } from './streams/stream-routes.js';

/** How often an instance says it is alive and looks for departed instances' slots (DESIGN §7: within 15 s). */
const FLEET_INTERVAL_MS = 5_000;
/** Paged snapshot reads hold a transaction open (and vacuum back): not for long. */
const HELD_SNAPSHOT_TTL_MS = 5 * 60_000;
/** Streams closed by a drain come back after a delay spread over this range (ms). */
const DRAIN_RETRY_MS = { min: 250, max: 3_000 } as const;
/** How long requests under way at shutdown may take to finish. */
const REQUEST_GRACE_MS = 10_000;
/** A snapshot reader that takes no bytes for this long is cut off (DESIGN §4). */
const SNAPSHOT_STALL_MS = 30_000;

export interface WalcastOptions {
  /** `loadConfig(process.env)`, or settings of one's own with the same names. */
  readonly config: Config;
  /** Defaults to `config.databaseUrl`. */
  readonly databaseUrl?: string;
  /** Defaults to a pino logger at `config.logLevel`. */
  readonly log?: Logger;
  /** Defaults to the secret or JWKS URL in `config`. */
  readonly verifyToken?: VerifyToken;
  readonly host?: string;
  readonly keepaliveMs?: number;
  /** How long a snapshot reader may take no bytes before it is cut off (default 30 s). */
  readonly snapshotStallMs?: number;
  /** Mounted before the API routes (the embedded demo page). */
  readonly extraRouters?: readonly Router[];
}

/** A walcast instance without a server: mount `handler` where it should answer. */
export interface Walcast {
  /** Every route of DESIGN §4, with JSON errors; `app.use('/realtime', walcast.handler)`. */
  readonly handler: WalcastHandler;
  /** What /readyz says: streaming from the slot and caught up with the WAL, and not draining. */
  readonly ready: () => boolean;
  /**
   * Stops taking streams and fails /readyz; every open stream gets a short `retry:` and is
   * closed, so its client moves to another instance (DESIGN §7). close() drains first.
   */
  drain(): void;
  /** Drains, stops replication, releases the database. */
  close(): Promise<void>;
}

export interface RunningWalcast extends Omit<Walcast, 'handler'> {
  readonly server: Server | Http2SecureServer;
  /** Ends every open connection at once, streams included (their clients reconnect). */
  dropConnections(): void;
  readonly port: number;
  readonly url: string;
}

export async function createWalcast(options: WalcastOptions): Promise<Walcast> {
  return (await assemble(options)).walcast;
}

/** An instance, and what its own server needs to serve streams below node:http. */
async function assemble(options: WalcastOptions): Promise<{ walcast: Walcast; streams: RawStreamsOptions }> {
  const { config } = options;
  const log = options.log ?? createLogger(config.logLevel);
  const databaseUrl = options.databaseUrl ?? config.databaseUrl;
  if (!databaseUrl) throw new WalcastError('INVALID_CONFIG', 'createWalcast needs a databaseUrl (or DATABASE_URL in its config)');
  const pools = createPools(databaseUrl, log);
  const pool = pools.catalog;
  const { standby } = await prepareDatabase(pool, databaseUrl, config.publication, { migrate: config.migrate }).catch(async (error: unknown) => {
    await pools.end();
    throw error;
  });
  const slot = await ensureSlot(databaseUrl, config.slotName);
  log.info({ slot: config.slotName, created: slot.created, copiedFrom: slot.copiedFrom, confirmedFlush: formatLsn(slot.confirmedFlush) }, 'slot ready');

  const catalog = new ExposureCatalog(config.publication, await loadExposures(pool), await loadConfigRelid(pool));
  const presenceKey = await loadPresenceKey(pool);
  const types = new TypeStore(pool);
  const describe = (relid: number) => describeTable(pool, types, catalog, relid);
  const retention = new RetentionLog(
    { maxEvents: config.retainEvents, maxBytes: config.retainBytes, maxAgeMs: config.retainSeconds * 1000, maxWalBytes: config.retainWalBytes },
    slot.confirmedFlush,
  );
  // Presence rooms compare tenants as the exposed tables' tenant columns do, when they
  // agree: read again when the exposures change.
  let presenceKind: TenantKind = await presenceKindOf(pool, config.publication);
  let presenceKindVersion = catalog.version;
  const refreshPresenceKind = async () => {
    const version = catalog.version;
    if (presenceKindVersion === version) return;
    presenceKind = await presenceKindOf(pool, config.publication);
    presenceKindVersion = version;
  };
  const presenceTenant = (claim: string): TenantKey => tenantKey(presenceKind, claim) ?? tenantKey('text', claim)!;
  const hub = createHub({ retention, now: Date.now, ...(options.keepaliveMs ? { keepaliveMs: options.keepaliveMs } : {}) });
  const metrics = createMetrics({
    clients: () => hub.size(),
    retainedEvents: () => retention.size,
    replicationLagBytes: async () => {
      const current = await walFlushPosition(pool);
      const processed = replication.processedLsn();
      return current > processed ? Number(current - processed) : 0;
    },
    slots: () => slots,
  });
  const presence = createPresence({
    publish: (tenant, room, data) => hub.publishPresence(tenant as TenantKey, room, data),
    key: presenceKey,
    onForged: () => metrics.forgedMessages.inc(),
    log,
  });
  const recovery = slotRecovery({ databaseUrl, slotName: config.slotName, retention, hub, now: Date.now });
  let serverWalEnd: Lsn | undefined;
  const self = { slotName: config.slotName, publication: config.publication, instance: config.instance };
  if (!standby) await announce(pool, self);
  let slots: readonly SlotReport[] = [];

  const pipeline = createEventPipeline({
    catalog,
    lookup: {
      typeOf: (oid) => types.typeOf(oid),
      prepareTypes: (oids) => (types.missing(oids).length > 0 ? types.resolve(oids) : undefined),
    },
    retention,
    maxTxnChanges: config.maxTxnChanges,
    publish: (events) => hub.publish(events),
    log,
    onChangesDecoded: (count) => metrics.changes.inc(count),
    messages: new Map([[PRESENCE_MESSAGE_PREFIX, (content: Buffer) => presence.receive(content)]]),
  });
  const replication = startReplication({
    connectionString: databaseUrl,
    slotName: config.slotName,
    publication: config.publication,
    sink: pipeline,
    holdBack: () => retention.oldestCommitLsn(),
    confirmedFlush: slot.confirmedFlush,
    log,
    serverIsStopping: () => serverIsStopping(databaseUrl),
    serverWalPosition: () => walInsertPosition(pool),
    onServerWalEnd: (lsn) => {
      serverWalEnd = lsn;
    },
    recoverSlot: () => recovery.recover(),
  });

  const maintenance = startMaintenance(
    [
      { name: "re-read the tenant columns' kinds when exposures change (presence)", everyMs: 1_000, run: refreshPresenceKind },
      {
        name: 'expire retained events and presence',
        everyMs: 1_000,
        run: () => {
          retention.expire(serverWalEnd);
          presence.expire();
        },
      },
      ...(standby ? [] : [{ name: 'forget expired idempotency keys', everyMs: 10 * 60_000, run: () => forgetExpiredKeys(pool) }]),
      {
        // A standby cannot write walcast.instances: its instances neither announce nor reap.
        name: "announce this instance, drop departed instances' slots",
        everyMs: FLEET_INTERVAL_MS,
        run: async () => {
          if (!standby) {
            await announce(pool, self);
            await reapOrphans(pool, self, config.slotOrphanAfterSeconds, log);
          }
          slots = await slotReports(pool);
        },
      },
    ],
    log,
  );

  const verifyToken =
    options.verifyToken ??
    createTokenVerifier({
      secret: config.jwtSecret,
      jwksUrl: config.jwksUrl,
      tenantClaim: config.tenantClaim,
      audience: config.jwtAudience,
      issuer: config.jwtIssuer,
    });
  const engine = createFilterEngine(pools.filters);
  const columnsOf = (relid: number) => describeFilterColumns(pool, relid);
  const filters = clientFilters({ engine, catalog, columnsOf });
  const policies = createPolicies({ engine, catalog, columnsOf, log });
  const held = new HeldSnapshots({ max: CONNECTION_BUDGET.heldSnapshots, ttlMs: HELD_SNAPSHOT_TTL_MS });
  let draining = false;
  const ready = () => replication.caughtUp() && !draining;
  const drain = () => {
    if (draining) return;
    draining = true;
    log.info({ streams: hub.size() }, 'draining: no new streams; open ones are told to retry elsewhere');
    hub.closeAll(() => DRAIN_RETRY_MS.min + Math.floor(Math.random() * (DRAIN_RETRY_MS.max - DRAIN_RETRY_MS.min)));
  };
  const stream = streamHandler({
    verifyToken,
    catalog,
    retention,
    hub,
    metrics,
    log,
    accepting: () => !draining,
    maxLagBytes: config.clientQueueBytes,
    maxClients: config.maxClients,
    maxClientsPerTenant: config.maxClientsPerTenant,
    filters,
    policies,
    maxClientsPerUser: config.maxClientsPerUser,
    databasePosition: createDatabasePosition(() => readDatabasePosition(pool)),
    presenceTenant,
    presenceSync: (tenant, room) => presence.syncOf(tenant, room),
  });
  const handler = createApp({
    log,
    corsOrigins: config.corsOrigins,
    metrics,
    readiness: () => ({
      ready: ready(),
      detail: {
        replication: replication.status(),
        caughtUp: replication.caughtUp(),
        processedLsn: formatLsn(replication.processedLsn()),
        ...(draining ? { draining } : {}),
        ...(recovery.lostAt() ? { slotLostAt: recovery.lostAt() } : {}),
      },
    }),
    stream,
    routers: [
      ...(options.extraRouters ?? []),
      editRoutes({
        verifyToken,
        catalog,
        pool: pools.writes,
        describeTable: describe,
        policies,
        limiter: createRateLimiter(config.editRatePerMinute, 'edits'),
        readOnly: standby,
      }),
      presenceRoutes({
        verifyToken,
        ttlMs: config.presenceTtlSeconds * 1000,
        limiter: createRateLimiter(config.presenceRatePerMinute, 'heartbeats'),
        emit: await presenceEmitter(pools.writes, presenceKey),
        members: (tenant, room) => presence.members(tenant, room),
        presenceTenant,
        readOnly: standby,
      }),
      snapshotRoutes({
        verifyToken,
        catalog,
        reads: pools.reads,
        connectionString: databaseUrl,
        held,
        gate: new ReadGate(config.maxSnapshotsPerTenant),
        filters,
        policies,
        stallMs: options.snapshotStallMs ?? SNAPSHOT_STALL_MS,
        describeTable: describe,
      }),
    ],
  });

  const cors = corsHeaders(config.corsOrigins);
  let closing: Promise<void> | undefined;
  return {
    walcast: {
      handler,
      ready,
      drain,
      close() {
        closing ??= (async () => {
          drain();
          maintenance.stop();
          await replication.stop();
          await held.releaseAll();
          await pools.end();
        })();
        return closing;
      },
    },
    streams: { path: STREAM_PATH, handle: stream, edgeHeaders: (head) => cors(headerText(head.headers.origin)) ?? {}, log, metrics },
  };
}

const headerText = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

/** createWalcast on an HTTP server of its own, listening on `config.port`. */
export async function startWalcast(options: WalcastOptions): Promise<RunningWalcast> {
  const { walcast, streams } = await assemble(options);
  const { tlsCert, tlsKey } = options.config;
  const tls = tlsCert && tlsKey ? { cert: tlsCert, key: tlsKey } : undefined;
  const http = await listen({ handler: walcast.handler, port: options.config.port, host: options.host, tls, streams }).catch(async (error: unknown) => {
    await walcast.close();
    throw error;
  });
  let closing: Promise<void> | undefined;
  return {
    ready: walcast.ready,
    drain: walcast.drain,
    server: http.server,
    dropConnections: () => http.dropConnections(),
    port: http.port,
    url: http.url,
    close() {
      closing ??= (async () => {
        walcast.drain();
        // Requests under way (an edit, a snapshot) may finish; nothing new is accepted.
        await http.close(REQUEST_GRACE_MS);
        await walcast.close();
      })();
      return closing;
    },
  };
}
