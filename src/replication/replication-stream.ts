// The replication connection: START_REPLICATION on the slot, decode, hand messages on in
// order, send standby status updates, reconnect with backoff. The one I/O shell around
// pg-logical-replication.
//
//   starting ──subscribe──► streaming ──error/close──► reconnecting ──backoff──► streaming
//       └──────────────────────────stop()──────────────────────────► stopped
//
// Acknowledgement invariant (replication/acknowledgement): the flush position we report is
// never past min(end of the last fully processed transaction, oldest retained event's
// commit LSN), so after a crash Postgres replays everything a client might still ask for.
// The library's own acks (auto, and a timer that acks the last keepalive) would break
// this, so both are off and we answer keepalives ourselves (FACTS.md).
//
// Nothing thrown here may reach the driver: its socket handler would end the process.
// Every way in from the library (parse, data, keepalive, error) is guarded; a fault is
// logged and the connection restarts from what was processed, so nothing is skipped.
import pgLogical from 'pg-logical-replication';
import type pg from 'pg';
import { WalcastError } from '../errors.js';
import type { Logger } from '../log.js';
import { flushPosition, NO_PROGRESS, progressAfterKeepalive, progressAfterMessage, shouldReport, type Progress } from './acknowledgement.js';
import { formatLsn, parseLsn, type Lsn } from './lsn.js';
import { PgoutputDecoder, type PgoutputMessage } from './pgoutput.js';
import { TEXT_FORMAT_OPTIONS } from './text-format.js';

const { LogicalReplicationService } = pgLogical;

export type ReplicationStatus = 'starting' | 'streaming' | 'reconnecting' | 'recovering' | 'stopped';

export interface ReplicationSink {
  /** A promise pauses the stream: later messages wait, in order, until it settles. */
  handle(message: PgoutputMessage): Promise<void> | undefined;
  connectionReset(): void;
  /** The slot was made again at `horizon`: what comes after it is decoded anew, even if had before. */
  slotRecreated(horizon: Lsn): void;
}

export interface ReplicationOptions {
  readonly connectionString: string;
  readonly slotName: string;
  readonly publication: string;
  readonly sink: ReplicationSink;
  /** Commit LSN of the oldest event still retained, if any: acknowledgements stop there. */
  readonly holdBack: () => Lsn | undefined;
  /** The slot's confirmed_flush_lsn when we start: never report less. */
  readonly confirmedFlush: Lsn;
  readonly log: Logger;
  readonly statusIntervalMs?: number;
  /**
   * The slot is gone (dropped, or invalidated by max_slot_wal_keep_size): make a new one
   * and return its confirmed position. What happened in between is lost to us.
   */
  readonly recoverSlot: () => Promise<Lsn>;
  /** The server's current WAL end, from each keepalive. */
  readonly onServerWalEnd?: (lsn: Lsn) => void;
  /** Whether Postgres is shutting down (it refuses new connections with 57P03). */
  readonly serverIsStopping: () => Promise<boolean>;
  /**
   * The server's WAL position now, past every commit written so far: caught up means
   * processed past it (so /readyz holds every transaction committed before it connected).
   */
  readonly serverWalPosition: () => Promise<Lsn>;
}

export interface ReplicationStream {
  readonly status: () => ReplicationStatus;
  /** True once everything in the WAL when this connection started has been processed. */
  readonly caughtUp: () => boolean;
  /** End of the last WAL we have fully processed. */
  readonly processedLsn: () => Lsn;
  /** The position last reported to Postgres as flushed (the slot's confirmed_flush_lsn). */
  readonly confirmedLsn: () => Lsn;
  stop(): Promise<void>;
}

const MIN_BACKOFF_MS = 200;

/** A message as the library hands it on: decoded, or what the decoder could not read. */
type Decoded = PgoutputMessage | { readonly tag: 'undecodable'; readonly error: unknown };

/**
 * START_REPLICATION on a slot that was dropped (42704) or invalidated (55000: "can no
 * longer get changes from" / "can no longer access" the slot, depending on the major).
 */
function isSlotLost(error: unknown): boolean {
  const { code, message, detail } = error as { code?: string; message?: string; detail?: string };
  return code === '42704' || (code === '55000' && /can no longer|invalidated/i.test(`${message ?? ''} ${detail ?? ''}`));
}
const MAX_BACKOFF_MS = 10_000;

export function startReplication(options: ReplicationOptions): ReplicationStream {
  const { slotName, publication, sink, log } = options;
  let status: ReplicationStatus = 'starting';
  let caughtUp = false;
  let catchUpTarget: Lsn | undefined;
  /** Read through a call: TypeScript's narrowing does not know an await can change it. */
  const stopped = () => status === 'stopped';
  let progress: Progress = NO_PROGRESS;
  let confirmed: Lsn = options.confirmedFlush;
  let backoff = MIN_BACKOFF_MS;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let service: InstanceType<typeof LogicalReplicationService> | undefined;

  /**
   * A stopping Postgres waits for each logical walsender's client to confirm everything
   * sent, so holding the slot back would hang its shutdown. Once it is stopping we let
   * it go: our window stays in memory; only a walcast restarted before new events come
   * in would lack the older ones (its clients get reset).
   */
  let releaseForShutdown = false;
  let probingShutdown = false;

  function probeShutdown(): void {
    if (probingShutdown || releaseForShutdown) return;
    probingShutdown = true;
    options
      .serverIsStopping()
      .then((stopping) => {
        if (!stopping || status !== 'streaming') return;
        releaseForShutdown = true;
        log.warn({ slot: slotName }, 'Postgres is shutting down: confirming the slot up to what was received so it can');
        sendStatus(true);
      })
      .catch(() => undefined)
      .finally(() => {
        probingShutdown = false;
      });
  }

  /**
   * Standby status update: flushed = everything before `flushPosition()`; `force` answers
   * a keepalive that asked for a reply.
   */
  function sendStatus(force: boolean): void {
    const flush = flushPosition({ processed: progress.processed, held: options.holdBack(), confirmed, releasedForShutdown: releaseForShutdown });
    if (!service || status !== 'streaming' || !shouldReport(flush, confirmed, force)) return;
    // The library reports `acknowledge(x)` as x + 1 flushed. A failure is the connection's,
    // which its error handler already reconnects.
    service.acknowledge(formatLsn((flush - 1n) as Lsn)).catch(() => undefined);
    confirmed = flush;
  }

  // Messages, keepalives and resets run strictly in arrival order. The sink may pause us
  // (a catalog lookup for a relation it has not seen); what arrives meanwhile queues up.
  // Without a pause, work runs at once.
  type Work = () => Promise<void> | undefined;
  const queue: Work[] = [];
  let paused = false;

  function run(work: Work): void {
    if (paused) {
      queue.push(work);
      return;
    }
    const pending = guarded(work);
    if (pending) pause(pending);
  }

  function pause(pending: Promise<void>): void {
    paused = true;
    void pending.then(drain, (error: unknown) => {
      log.error({ err: error }, 'replication sink failed');
      drain();
    });
  }

  function drain(): void {
    paused = false;
    while (queue.length > 0) {
      const pending = guarded(queue.shift()!);
      if (pending) return pause(pending);
    }
  }

  /**
   * Runs one step of work; a fault is a bug (the pipeline guards what data can cause):
   * say so, drop what is queued and start again from what was processed.
   */
  function guarded(work: Work): Promise<void> | undefined {
    try {
      return work();
    } catch (error) {
      log.error({ err: error }, 'replication step failed; reconnecting from the last processed position');
      queue.length = 0;
      scheduleReconnect(error);
      return undefined;
    }
  }

  function handleData(message: PgoutputMessage): Promise<void> | undefined {
    if (message.tag === 'begin') progress = progressAfterMessage(progress, message);
    const pending = sink.handle(message);
    if (message.tag === 'commit') progress = progressAfterMessage(progress, message);
    return pending;
  }

  function handleKeepalive(walEnd: Lsn, shouldRespond: boolean): undefined {
    options.onServerWalEnd?.(walEnd);
    // The queue keeps arrival order, so what came before this keepalive has been handled.
    progress = progressAfterKeepalive(progress, walEnd);
    // A keepalive's position is only what the server has read so far (it sends one right
    // after connecting too): caught up is past the WAL as it was at connect.
    if (!progress.inTransaction && catchUpTarget !== undefined && progress.processed >= catchUpTarget) caughtUp = true;
    sendStatus(shouldRespond);
    // Caught up and asked for a reply: the server may be waiting on us to stop.
    if (shouldRespond && !progress.inTransaction && walEnd <= progress.processed) probeShutdown();
    return undefined;
  }

  function onData(_walStart: string, message: Decoded): void {
    if (message.tag === 'undecodable') {
      log.error({ err: message.error }, 'a replication message could not be decoded; reconnecting');
      return void scheduleReconnect(message.error);
    }
    backoff = MIN_BACKOFF_MS;
    run(() => handleData(message));
  }

  function onKeepalive(walEnd: string, _timestamp: number, shouldRespond: boolean): void {
    run(() => handleKeepalive(parseLsn(walEnd), shouldRespond));
  }

  function scheduleReconnect(reason: unknown): void {
    if (status === 'stopped' || reconnectTimer) return;
    // Nothing more is taken from this connection: what it still sends comes again.
    const dead = service;
    service = undefined;
    dead?.destroy().catch(() => undefined);
    if (isSlotLost(reason)) return recover(reason);
    status = 'reconnecting';
    caughtUp = false;
    releaseForShutdown = false;
    run(() => {
      progress = { inTransaction: false, processed: progress.processed };
      sink.connectionReset();
      return undefined;
    });
    log.warn({ err: reason, retryInMs: backoff }, 'replication connection lost; reconnecting');
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      void connect();
    }, backoff);
    backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
  }

  function recover(reason: unknown): void {
    status = 'recovering';
    caughtUp = false;
    log.error({ err: reason, slot: slotName }, 'replication slot lost; recreating it (clients whose position is gone get reset)');
    // In turn with the messages: what the lost connection brought and still waits in the
    // queue is decoded first, so nothing lands in the window after it restarts.
    run(async () => {
      try {
        const fresh = await options.recoverSlot();
        sink.slotRecreated(fresh);
        progress = { inTransaction: false, processed: fresh };
        confirmed = fresh;
        if (status === 'recovering') void connect();
      } catch (error) {
        status = 'reconnecting';
        log.error({ err: error }, 'could not recreate the replication slot; retrying');
        reconnectTimer = setTimeout(() => {
          reconnectTimer = undefined;
          recover(reason);
        }, backoff);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    });
  }

  async function connect(): Promise<void> {
    const previous = service;
    service = undefined;
    await previous?.destroy().catch(() => undefined);
    if (status === 'stopped') return;

    catchUpTarget = undefined;
    try {
      catchUpTarget = await options.serverWalPosition();
    } catch (error) {
      scheduleReconnect(error);
      return;
    }
    // stop() may have come while we waited: never open a connection after it.
    if (stopped()) return;
    const decoder = new PgoutputDecoder();
    const current = new LogicalReplicationService({ connectionString: options.connectionString, options: TEXT_FORMAT_OPTIONS } as pg.ClientConfig, {
      acknowledge: { auto: false, timeoutSeconds: 0 },
      flowControl: { enabled: false },
    });
    service = current;
    current.on('data', (lsn: string, message: Decoded) => {
      if (service === current) onData(lsn, message);
    });
    current.on('heartbeat', (lsn: string, timestamp: number, shouldRespond: boolean) => {
      if (service === current) onKeepalive(lsn, timestamp, shouldRespond);
    });
    current.on('start', () => {
      status = 'streaming';
      log.info({ slot: slotName, from: formatLsn(progress.processed) }, 'replication streaming');
    });
    current.on('error', (error: unknown) => {
      if (service === current) scheduleReconnect(error);
    });
    const plugin = {
      options: {},
      name: 'pgoutput',
      parse: (buffer: Buffer): Decoded => {
        try {
          return decoder.decode(buffer);
        } catch (error) {
          return { tag: 'undecodable', error };
        }
      },
      start: (client: pg.Client, slot: string, lsn: string) =>
        client.query(`START_REPLICATION SLOT "${slot}" LOGICAL ${lsn} ` + `(proto_version '1', publication_names '"${publication}"', messages 'true')`),
    };
    // Starting at what we already processed (not the slot's older confirmed position)
    // makes the server skip transactions we have; it never goes below confirmed_flush_lsn.
    current
      .subscribe(plugin, slotName, formatLsn(progress.processed))
      .then(() => {
        if (service === current) scheduleReconnect(new WalcastError('REPLICATION_UNAVAILABLE', 'replication stream ended'));
      })
      .catch((error: unknown) => {
        if (service === current) scheduleReconnect(error);
      });
  }

  const statusTimer = setInterval(() => sendStatus(false), options.statusIntervalMs ?? 1000);
  statusTimer.unref();
  void connect();

  return {
    status: () => status,
    caughtUp: () => caughtUp && status === 'streaming',
    processedLsn: () => progress.processed,
    confirmedLsn: () => confirmed,
    async stop() {
      sendStatus(false);
      status = 'stopped';
      clearInterval(statusTimer);
      clearTimeout(reconnectTimer);
      const current = service;
      service = undefined;
      await current?.destroy().catch(() => undefined);
    },
  };
}
