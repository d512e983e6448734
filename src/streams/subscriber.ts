// One client stream: what it may see, where its cursor is in the shared retention log,
// and how far behind it may fall.
//
//   replaying ──cursor reaches the log's head──► live ──socket full──► replaying
//       │  reads retained events from its cursor                        │
//       │  while the socket takes them; on 'drain' it goes on           │
//       └── more than maxLagBytes behind, or cursor evicted ──► closed ◄┘
//                          any fault while serving it ──────────► closed
//
// A stream never queues events of its own: what it has not been sent yet stays in the
// retention log, shared by all, and its cursor points there. So a burst (one large
// transaction) costs each client nothing but its socket buffer, and a client that stops
// reading is cut off once it is `maxLagBytes` of events behind.
//
// A row policy that changes (an `invalidate` with reason policy_changed in the log) is
// applied at that very event: the stream sends it, stops taking events while the table's
// predicate is bound again for its principal, then goes on from its cursor, so no event
// after the change is judged by the old rule, whichever instance or resume point.
//
// Fault isolation: every way in (the hub's offer and flush, the socket's drain, timers)
// goes through `guard`, so a fault while serving this stream (its filter, a frame, its
// socket) ends this stream alone, is reported once, and never reaches the caller: the
// hub's loop over other streams, or the replication socket's handler behind it.
import type { WalcastEvent } from '../events/event.js';
import type { RetainedEvent, RetentionLog } from '../events/retention.js';
import { frameFor, judge } from './frames.js';
import type { Sink } from '../http/exchange.js';
import { encodeEvent } from './sse.js';
import type { BoundFilter } from '../filters/index.js';
import type { TenantKey } from '../events/tenant-key.js';

/** How a stream judges a table's rows: its predicate, and the cover that indexes it (streams/routing). */
export type TableFilter = Pick<BoundFilter, 'matches' | 'cover'>;

/** Past this, a turn's batch is written without waiting for the turn to end. */
const MAX_BATCH_BYTES = 64 * 1024;

export interface SubscriberFilter {
  readonly tenant: string;
  /** The token's subject: streams are counted per user. */
  readonly sub: string;
  /** claimTenantKeys(tenant): an event reaches the stream when its tenantKey is one of them. */
  readonly tenantKeys: ReadonlySet<TenantKey>;
  /** Relation OIDs (a renamed table stays subscribed); null: every table exposed to the tenant. */
  readonly tables: ReadonlySet<number> | null;
  /** What rows of each table it may see (its policy and `where=`), by relation OID; a table absent: every row. */
  readonly predicates: ReadonlyMap<number, TableFilter>;
  /** Presence rooms it follows (`rooms=`). */
  readonly rooms: ReadonlySet<string>;
}

export type CloseReason = 'client' | 'slow' | 'expired' | 'lagged' | 'shutdown' | 'fault';

export interface SubscriberOptions {
  readonly sink: Sink;
  readonly filter: SubscriberFilter;
  /** Only events new to the client's resume position are sent (it may be ahead of this instance). */
  readonly isNew: ((event: WalcastEvent) => boolean) | undefined;
  readonly startSeq: number;
  readonly expiresAt: number | undefined;
  /** How far (bytes of retained events) it may fall behind the log's head. */
  readonly maxLagBytes: number;
  readonly onSent: (count: number) => void;
  /** A table's filter bound again after its row policy changed; undefined: every row. */
  readonly rebind?: (relid: number) => Promise<TableFilter | undefined>;
  /** The table's filter changed (after a rebind): where the hub finds this stream changes too. */
  readonly onRebound?: (subscriber: Subscriber, relid: number) => void;
  /** Called once when the stream ends; `error` is the fault that ended it, if one did. */
  readonly onClose: (subscriber: Subscriber, reason: CloseReason, error?: unknown) => void;
}

let opened = 0;

export class Subscriber {
  /** The order streams were opened in (the hub spreads their keepalives by it). */
  readonly serial = opened++;
  private state: 'replaying' | 'live' | 'closed' = 'replaying';
  private cursor: number;
  private waitingForDrain = false;
  /** Frames offered and not yet written (until the hub's end-of-turn flush). */
  private batch: Buffer[] = [];
  private batchBytes = 0;
  /** The filter's predicates until a policy changes one: then a copy of its own. */
  private predicates: ReadonlyMap<number, TableFilter>;
  /** A table's predicate is being bound again: no event is taken until it is. */
  private rebinding = false;
  /**
   * Kept for the stream's life: a resume ID can be ahead of what this instance has
   * decoded (it is still rebuilding its window, or another instance is faster), and
   * the events up to it arrive live.
   */
  private readonly isNew: ((event: WalcastEvent) => boolean) | undefined;
  readonly filter: SubscriberFilter;
  readonly expiresAt: number | undefined;

  constructor(private readonly options: SubscriberOptions) {
    this.filter = options.filter;
    this.predicates = options.filter.predicates;
    this.cursor = options.startSeq;
    this.isNew = options.isNew;
    this.expiresAt = options.expiresAt;
  }

  get isLive(): boolean {
    return this.state === 'live';
  }

  filterOf(relid: number): TableFilter | undefined {
    return this.predicates.get(relid);
  }

  private accepts(event: WalcastEvent): boolean {
    if (event.tenantKey !== null && !this.filter.tenantKeys.has(event.tenantKey)) return false;
    if (this.filter.tables !== null && !this.filter.tables.has(event.relid)) return false;
    return this.isNew === undefined || this.isNew(event);
  }

  /** The bytes this stream gets for an event, or null; `shared` is the unfiltered frame. */
  private frameOf(event: WalcastEvent, shared: Buffer): Buffer | null {
    if (!this.accepts(event)) return null;
    const filter = this.predicates.get(event.relid);
    if (!filter) return shared;
    const verdict = judge(event, filter.matches);
    return verdict === 'skip' ? null : frameFor(event, verdict, shared);
  }

  /** Sends from the cursor while the socket takes it; live once at the log's head. */
  replay(log: RetentionLog): void {
    this.guard(() => this.replayFrom(log));
  }

  private replayFrom(log: RetentionLog): void {
    if (this.state === 'closed' || this.rebinding) return;
    // This turn's frames (up to a policy change, when a rebind needed no query) go before
    // anything read from the log after them: the SDK drops an ID lower than one it has seen.
    this.writeBatch();
    this.state = 'replaying';
    if (this.cursor < log.firstSeq) return this.close('lagged');
    let sent = 0;
    while (this.cursor < log.nextSeq) {
      if (this.options.sink.full) {
        this.options.onSent(sent);
        return this.waitForDrain(log);
      }
      const retained = log.at(this.cursor++)!;
      const frame = this.frameOf(retained.event, encodeEvent(retained));
      if (!frame) continue;
      this.options.sink.write(frame);
      sent++;
      if (this.policyChanged(retained.event)) {
        this.options.onSent(sent);
        return this.bindAgain(retained.event.relid, log);
      }
    }
    this.options.onSent(sent);
    this.state = 'live';
  }

  private waitForDrain(log: RetentionLog): void {
    if (this.waitingForDrain) return;
    this.waitingForDrain = true;
    this.options.sink.onDrain(() => {
      this.waitingForDrain = false;
      this.replay(log);
    });
  }

  /**
   * A new event, handed to live streams of its tenant by the hub with its shared bytes;
   * written at the hub's flush. True when it is the first of this turn's batch. A batch
   * that grows past MAX_BATCH_BYTES (one large transaction) is written at once, so a
   * stream that cannot take it goes back to the log as before, not holding a whole burst.
   */
  offer(retained: RetainedEvent, shared: Buffer, log: RetentionLog): boolean {
    return this.guard(() => this.take(retained, shared, log)) ?? false;
  }

  private take(retained: RetainedEvent, shared: Buffer, log: RetentionLog): boolean {
    // Already taken: the hub may find a stream twice for one event (two keys of its cover).
    if (this.state !== 'live' || this.rebinding || retained.seq < this.cursor) return false;
    this.cursor = retained.seq + 1;
    const frame = this.frameOf(retained.event, shared);
    if (!frame) return false;
    const first = this.batch.length === 0;
    this.batch.push(frame);
    this.batchBytes += frame.length;
    if (this.policyChanged(retained.event)) this.bindAgain(retained.event.relid, log);
    else if (this.batchBytes >= MAX_BATCH_BYTES) this.writeTurn(log);
    return first;
  }

  private policyChanged(event: WalcastEvent): boolean {
    return event.type === 'invalidate' && event.reason === 'policy_changed' && this.options.rebind !== undefined;
  }

  /** Stops taking events until the table's predicate follows its new policy; then on from the cursor. */
  private bindAgain(relid: number, log: RetentionLog): void {
    this.rebinding = true;
    this.state = 'replaying';
    this.options.rebind!(relid).then(
      (filter) => {
        const predicates = new Map(this.predicates);
        if (filter) predicates.set(relid, filter);
        else predicates.delete(relid);
        this.predicates = predicates;
        this.options.onRebound?.(this, relid);
        this.rebinding = false;
        this.replay(log);
      },
      (error: unknown) =>
        this.guard(() => {
          throw error;
        }),
    );
  }

  /** The frames offered since the last flush, in order (the hub shares equal batches' bytes). */
  get pending(): readonly Buffer[] {
    return this.batch;
  }

  /**
   * Writes what was offered this turn in one write: under load, many events share a
   * system call instead of one each. A full socket sends the stream back to replaying:
   * the rest waits in the log.
   */
  flush(log: RetentionLog, bytes?: Buffer): void {
    this.guard(() => this.writeTurn(log, bytes));
  }

  private writeTurn(log: RetentionLog, bytes?: Buffer): void {
    if (this.state === 'closed') {
      this.batch = [];
      this.batchBytes = 0;
      return;
    }
    this.writeBatch(bytes);
    if (this.options.sink.full && !this.rebinding) {
      this.state = 'replaying';
      this.waitForDrain(log);
    }
  }

  /** Anything else written goes after the frames offered before it. */
  private writeBatch(bytes?: Buffer): void {
    const frames = this.batch;
    if (frames.length === 0) return;
    this.batch = [];
    this.batchBytes = 0;
    this.options.sink.write(bytes ?? (frames.length === 1 ? frames[0]! : Buffer.concat(frames)));
    this.options.onSent(frames.length);
  }

  /** A stream that is not keeping up is cut off once it is too far behind. */
  checkLag(log: RetentionLog): void {
    this.guard(() => {
      if (this.state !== 'replaying') return;
      if (this.cursor < log.firstSeq) this.close('lagged');
      else if (log.bytesFrom(this.cursor) > this.options.maxLagBytes) this.close('slow');
    });
  }

  /** The history behind this stream is gone: say so, then go on live from `seq`. */
  reset(seq: number, frame: string): void {
    this.guard(() => {
      if (this.state === 'closed') return;
      this.writeBatch();
      this.options.sink.write(frame);
      this.cursor = seq;
      this.state = 'live';
    });
  }

  write(text: string): void {
    this.guard(() => {
      if (this.state === 'closed') return;
      this.writeBatch();
      this.options.sink.write(text);
    });
  }

  /** A presence event (no `id:`, not retained): dropped for a stream that is behind. */
  writePresence(frame: string): void {
    this.guard(() => {
      if (this.state !== 'live') return;
      this.writeBatch();
      this.options.sink.write(frame);
    });
  }

  /** Its client's connection ended. */
  clientGone(): void {
    this.close('client');
  }

  close(reason: CloseReason): void {
    this.guard(() => this.end(reason));
  }

  private end(reason: CloseReason, error?: unknown): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    try {
      this.options.onClose(this, reason, error);
    } finally {
      if (reason === 'slow' || reason === 'lagged' || reason === 'fault') {
        this.batch = [];
        this.options.sink.destroy();
      } else {
        // Shutdown and expiry write what this turn gathered first; a client that left gets nothing.
        if (reason !== 'client') this.writeBatch();
        this.options.sink.end();
      }
    }
  }

  /** Runs one way in; a fault ends this stream (its socket destroyed) and goes no further. */
  private guard<T>(work: () => T): T | undefined {
    try {
      return work();
    } catch (error) {
      this.fail(error);
      return undefined;
    }
  }

  private fail(error: unknown): void {
    if (this.state === 'closed') {
      // Already ended (a fault while ending it): make sure the socket is gone.
      this.options.sink.destroy();
      return;
    }
    try {
      this.end('fault', error);
    } catch {
      this.options.sink.destroy();
    }
  }
}
