// One client stream: what it may see, where its cursor is, and its bounded queue.
//
//   replaying ──cursor reaches the log's head──► live ──► closed
//       │  reads retained events from its cursor,            ▲
//       │  pausing on socket backpressure                    │
//       └── cursor evicted while paused / queue over bound ──┘
//
// While replaying, new events land in the retention log, which the replay reads in
// turn, so switching to live in the same tick as reaching the head loses nothing and
// sends nothing twice.
import type { ServerResponse } from 'node:http';
import type { WalcastEvent } from '../events/event.js';
import type { RetentionLog } from '../events/retention.js';
import { frameFor, judge } from './filtered-frames.js';
import { encodeEvent } from './sse.js';
import type { RowPredicate } from './where.js';

export interface SubscriberFilter {
  readonly tenant: string;
  /** Relation OIDs (a renamed table stays subscribed); null: every table exposed to the tenant. */
  readonly tables: ReadonlySet<number> | null;
  /** `where=` predicates by relation OID; null: no filter. */
  readonly where: ReadonlyMap<number, RowPredicate> | null;
  /** Presence rooms it follows (`rooms=`). */
  readonly rooms: ReadonlySet<string>;
}

export type CloseReason = 'client' | 'slow' | 'expired' | 'lagged' | 'shutdown';

export interface SubscriberOptions {
  readonly response: ServerResponse;
  readonly filter: SubscriberFilter;
  /** Only events new to the client's resume position are sent (it may be ahead of this instance). */
  readonly isNew: ((event: WalcastEvent) => boolean) | undefined;
  readonly startSeq: number;
  readonly expiresAt: number | undefined;
  readonly maxQueueBytes: number;
  readonly onSent: (count: number) => void;
  readonly onClose: (subscriber: Subscriber, reason: CloseReason) => void;
}

export class Subscriber {
  private state: 'replaying' | 'live' | 'closed' = 'replaying';
  private cursor: number;
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
    this.cursor = options.startSeq;
    this.isNew = options.isNew;
    this.expiresAt = options.expiresAt;
  }

  get isLive(): boolean {
    return this.state === 'live';
  }

  private accepts(event: WalcastEvent): boolean {
    if (event.tenant !== null && event.tenant !== this.filter.tenant) return false;
    if (this.filter.tables !== null && !this.filter.tables.has(event.relid)) return false;
    return this.isNew === undefined || this.isNew(event);
  }

  /** The bytes this stream gets for an event, or null; `shared` is the unfiltered frame. */
  private frameOf(event: WalcastEvent, shared: Buffer): Buffer | null {
    if (!this.accepts(event)) return null;
    const predicate = this.filter.where?.get(event.relid);
    if (!predicate) return shared;
    const verdict = judge(event, predicate);
    return verdict === 'skip' ? null : frameFor(event, verdict);
  }

  /** Replays from the cursor until caught up with `log`, then goes live. */
  replay(log: RetentionLog): void {
    if (this.state !== 'replaying') return;
    if (this.cursor < log.firstSeq) return this.close('lagged');
    let sent = 0;
    while (this.cursor < log.nextSeq) {
      const retained = log.at(this.cursor++)!;
      const frame = this.frameOf(retained.event, encodeEvent(retained.event));
      if (!frame) continue;
      this.options.response.write(frame);
      sent++;
      if (this.options.response.writableNeedDrain) {
        this.options.onSent(sent);
        this.options.response.once('drain', () => this.replay(log));
        return;
      }
    }
    this.options.onSent(sent);
    this.state = 'live';
  }

  /** A live event (already filtered by tenant by the hub), with its shared bytes. */
  offer(event: WalcastEvent, shared: Buffer): void {
    if (this.state !== 'live') return;
    const frame = this.frameOf(event, shared);
    if (!frame) return;
    this.options.response.write(frame);
    this.options.onSent(1);
    if (this.options.response.writableLength > this.options.maxQueueBytes) this.close('slow');
  }

  /** The history behind this stream is gone: say so, then go on live from `seq`. */
  reset(seq: number, frame: string): void {
    if (this.state === 'closed') return;
    this.options.response.write(frame);
    this.cursor = seq;
    this.state = 'live';
  }

  write(text: string): void {
    if (this.state !== 'closed') this.options.response.write(text);
  }

  /** A presence event (no `id:`): live only, under the same queue bound as events. */
  writePresence(frame: string): void {
    if (this.state === 'closed') return;
    this.options.response.write(frame);
    if (this.options.response.writableLength > this.options.maxQueueBytes) this.close('slow');
  }

  close(reason: CloseReason): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.options.onClose(this, reason);
    if (reason === 'slow' || reason === 'lagged') this.options.response.destroy();
    else this.options.response.end();
  }
}
