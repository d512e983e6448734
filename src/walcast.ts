// Wires one walcast instance around a database: migrations, slot, replication, events,
// streams and HTTP routes. createWalcast gives the routes to mount in an app of one's
// own; startWalcast serves them on a server of their own (the CLI, the tests).
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import type { Router } from 'express';
import pg from 'pg';
import { createTokenVerifier, type VerifyToken } from './auth/jwt.js';
import type { Config } from './config/config.js';
import { createEventPipeline } from './events/event-pipeline.js';
import { ExposureCatalog } from './events/exposure.js';
import { RetentionLog } from './events/retention.js';
import { createApp, type WalcastHandler } from './http/app.js';
import { clientErrorResponse } from './http/error-handler.js';
import { createMetrics } from './http/metrics.js';
import { WalcastError } from './errors.js';
import { createLogger, type Logger } from './log.js';
import { formatLsn, parseLsn, type Lsn } from './replication/lsn.js';
import { startReplication, type ReplicationStream } from './replication/replication-stream.js';
import { ensureSlot, recreateSlot, serverIsStopping } from './replication/slot.js';
import { loadExposures, loadListedTables } from './sql/exposure-store.js';
import { describeTable } from './sql/columns.js';
import { TypeStore } from './sql/type-store.js';
import { migrate } from './sql/migrate.js';
import { editRoutes } from './edits/edit-routes.js';
import { forgetExpiredKeys } from './edits/idempotency.js';
import { createRateLimiter } from './http/rate-limit.js';
import { createPresence } from './presence/presence.js';
import { presenceRoutes } from './presence/presence-routes.js';
import { presenceEmitter } from './presence/emit.js';
import { HeldSnapshots } from './snapshots/held-snapshots.js';
import { snapshotRoutes } from './snapshots/snapshot-routes.js';
import { createHub } from './streams/hub.js';
import { streamHandler } from './streams/stream-routes.js';

const LISTED_POLL_MS = 1_000;
const EXPIRY_INTERVAL_MS = 1_000;
const KEY_CLEANUP_INTERVAL_MS = 10 * 60_000;
/** Paged snapshot reads hold a transaction open (and vacuum back): few, and not for long. */
const MAX_HELD_SNAPSHOTS = 8;
const HELD_SNAPSHOT_TTL_MS = 5 * 60_000;
/** Snapshot reads hold a connection each for their duration. */
const POOL_SIZE = 10;

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
  /** Mounted before the API routes (the embedded demo page). */
  readonly extraRouters?: readonly Router[];
}

/** A walcast instance without a server: mount `handler` where it should answer. */
export interface Walcast {
  /** Every route of DESIGN §4, with JSON errors; `app.use('/realtime', walcast.handler)`. */
  readonly handler: WalcastHandler;
  readonly replication: ReplicationStream;
  readonly retention: RetentionLog;
  readonly catalog: ExposureCatalog;
  /** Ends every stream (clients resume elsewhere), stops replication, releases the database. */
  close(): Promise<void>;
}

export interface RunningWalcast extends Omit<Walcast, 'handler'> {
  readonly server: Server;
  readonly port: number;
  readonly url: string;
}

export async function createWalcast(options: WalcastOptions): Promise<Walcast> {
  const { config } = options;
  const log = options.log ?? createLogger(config.logLevel);
  const databaseUrl = options.databaseUrl ?? config.databaseUrl;
  if (!databaseUrl) throw new WalcastError('INVALID_CONFIG', 'createWalcast needs a databaseUrl (or DATABASE_URL in its config)');
  const pool = new pg.Pool({ connectionString: databaseUrl, max: POOL_SIZE });
  pool.on('error', (error) => log.warn({ err: error }, 'idle database connection failed'));
  // On a physical standby (PostgreSQL 16+ decodes there) the schema and the publication
  // arrive from the primary; this instance streams, and writes (edits, presence) fail there.
  const standby = (await pool.query<{ standby: boolean }>('select pg_is_in_recovery() as standby')).rows[0]!.standby;
  if (!standby) {
    await migrate(databaseUrl);
    const publication = await pool.query('select 1 from pg_publication where pubname = $1', [config.publication]);
    if (publication.rowCount === 0) {
      await pool.query(`create publication ${pg.escapeIdentifier(config.publication)} with (publish_via_partition_root = true)`);
    }
  }
  /** The server's WAL position now: written on a primary, replayed on a standby. */
  const walPosition = async () =>
    parseLsn((await pool.query<{ lsn: string }>(`select ${standby ? 'pg_last_wal_replay_lsn()' : 'pg_current_wal_flush_lsn()'}::text as lsn`)).rows[0]!.lsn);
  const slot = await ensureSlot(databaseUrl, config.slotName);
  const catalog = new ExposureCatalog(config.publication, await loadExposures(pool), await loadListedTables(pool, config.publication));
  const refreshListed = async () => catalog.setListed(await loadListedTables(pool, config.publication));
  // ALTER PUBLICATION has no WAL record a client could wait for: the names clients may
  // ask for follow it by a short poll (changes themselves are never gated on it).
  const listedPoll = setInterval(() => {
    refreshListed().catch((error: unknown) => log.warn({ err: error }, 'could not re-read the publication'));
  }, LISTED_POLL_MS);
  listedPoll.unref();
  const types = new TypeStore(pool);
  const emitPresence = await presenceEmitter(pool);
  const held = new HeldSnapshots({ max: MAX_HELD_SNAPSHOTS, ttlMs: HELD_SNAPSHOT_TTL_MS });
  const retention = new RetentionLog(
    { maxEvents: config.retainEvents, maxBytes: config.retainBytes, maxAgeMs: config.retainSeconds * 1000, maxWalBytes: config.retainWalBytes },
    slot.confirmedFlush,
  );
  let serverWalEnd: Lsn | undefined;
  const expiry = setInterval(() => {
    retention.expire(serverWalEnd);
    presence.expire();
  }, EXPIRY_INTERVAL_MS);
  const keyCleanup = setInterval(() => {
    if (standby) return;
    forgetExpiredKeys(pool).catch((error: unknown) => log.warn({ err: error }, 'could not delete expired idempotency keys'));
  }, KEY_CLEANUP_INTERVAL_MS);
  keyCleanup.unref();
  expiry.unref();
  const hub = createHub({ retention, now: Date.now, ...(options.keepaliveMs ? { keepaliveMs: options.keepaliveMs } : {}) });
  const presence = createPresence({ publish: (tenant, room, data) => hub.publishPresence(tenant, room, data), log });

  let replication: ReplicationStream | undefined;
  /** When the slot was last lost and recreated: /readyz tells operators. */
  let slotLostAt: string | undefined;
  const metrics = createMetrics({
    clients: () => hub.size(),
    retainedEvents: () => retention.size,
    replicationLagBytes: async () => {
      if (!replication) return undefined;
      const current = await walPosition();
      const processed = replication.processedLsn();
      return current > processed ? Number(current - processed) : 0;
    },
  });
  const pipeline = createEventPipeline({
    catalog,
    lookup: {
      typeOf: (oid) => types.typeOf(oid),
      prepareTypes: (oids) => (types.missing(oids).length > 0 ? types.resolve(oids) : undefined),
      refreshListed,
    },
    retention,
    maxTxnChanges: config.maxTxnChanges,
    publish: (events) => hub.publish(events),
    log,
    onChangesDecoded: (count) => metrics.changes.inc(count),
    presence: (content) => presence.receive(content),
  });
  replication = startReplication({
    connectionString: databaseUrl,
    slotName: config.slotName,
    publication: config.publication,
    sink: pipeline,
    holdBack: () => retention.oldestCommitLsn(),
    confirmedFlush: slot.confirmedFlush,
    log,
    serverIsStopping: () => serverIsStopping(databaseUrl),
    serverFlushLsn: walPosition,
    onServerWalEnd: (lsn) => {
      serverWalEnd = lsn;
    },
    recoverSlot: async () => {
      const horizon = await recreateSlot(databaseUrl, config.slotName);
      retention.restartAt(horizon);
      hub.resetAll('the replication slot was lost and recreated; changes in between are unknown: refetch your snapshot');
      slotLostAt = new Date().toISOString();
      return horizon;
    },
  });
  const stream = replication;
  log.info({ slot: config.slotName, created: slot.created, confirmedFlush: formatLsn(slot.confirmedFlush) }, 'slot ready');

  const verifyToken = options.verifyToken ?? createTokenVerifier({
      secret: config.jwtSecret,
      jwksUrl: config.jwksUrl,
      tenantClaim: config.tenantClaim,
      audience: config.jwtAudience,
      issuer: config.jwtIssuer,
    });
  const app = createApp({
    log,
    corsOrigins: config.corsOrigins,
    metrics,
    readiness: () => ({
      ready: stream.caughtUp(),
      detail: {
        replication: stream.status(),
        caughtUp: stream.caughtUp(),
        processedLsn: formatLsn(stream.processedLsn()),
        ...(slotLostAt ? { slotLostAt } : {}),
      },
    }),
    stream: streamHandler({
        verifyToken,
        catalog,
        retention,
        hub,
        metrics,
        maxLagBytes: config.clientQueueBytes,
        maxClients: config.maxClients,
        maxClientsPerTenant: config.maxClientsPerTenant,
        filterableColumns: async (relid) => (await describeTable(pool, types, catalog, relid)).columns,
        presenceMembers: (tenant, room) => presence.members(tenant, room),
      }),
    routers: [...(options.extraRouters ?? []),
      editRoutes({
        verifyToken,
        catalog,
        pool,
        describeTable: (relid) => describeTable(pool, types, catalog, relid),
        limiter: createRateLimiter(config.editRatePerMinute, 'edits'),
        readOnly: standby,
      }),
      presenceRoutes({
        verifyToken,
        ttlMs: config.presenceTtlSeconds * 1000,
        limiter: createRateLimiter(config.presenceRatePerMinute, 'heartbeats'),
        emit: emitPresence,
        members: (tenant, room) => presence.members(tenant, room),
        readOnly: standby,
      }),
      snapshotRoutes({ verifyToken, catalog, pool, connectionString: databaseUrl, held, describeTable: (relid) => describeTable(pool, types, catalog, relid) })],
  });
  let closing: Promise<void> | undefined;
  return {
    handler: app,
    replication: stream,
    retention,
    catalog,
    close() {
      closing ??= shutDown();
      return closing;
    },
  };

  async function shutDown(): Promise<void> {
    clearInterval(listedPoll);
    clearInterval(expiry);
    clearInterval(keyCleanup);
    hub.closeAll();
    await stream.stop();
    await held.releaseAll();
    await pool.end();
  }
}

/** createWalcast on an HTTP server of its own, listening on `config.port`. */
export async function startWalcast(options: WalcastOptions): Promise<RunningWalcast> {
  const { handler, ...walcast } = await createWalcast(options);
  const server = createServer(handler);
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (socket.writable) socket.end(clientErrorResponse(error.code));
    else socket.destroy();
  });
  server.listen(options.config.port, options.host);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;

  let closing: Promise<void> | undefined;
  return {
    ...walcast,
    server,
    port,
    url: `http://${options.host && options.host !== '0.0.0.0' ? options.host : 'localhost'}:${port}`,
    close() {
      closing ??= shutDown();
      return closing;
    },
  };

  /** Stops accepting, ends every stream (clients reconnect elsewhere), reports the final position. */
  async function shutDown(): Promise<void> {
    server.close();
    const stopped = walcast.close();
    server.closeAllConnections();
    await stopped;
  }
}
