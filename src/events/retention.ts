// The in-memory window of recent events, bounded by count and bytes. Streams replay from
// it on resume; the slot's confirmed position is held back to its oldest entry, so a
// restarted instance rebuilds the same window from the WAL (DESIGN §7).
import type { Lsn } from '../replication/lsn.js';
import type { Tuple } from '../replication/pgoutput.js';
import { formatEventId, MAX_POSITION, type EventId } from './event-id.js';
import type { ResumePosition } from './resume-point.js';
import type { WalcastEvent } from './event.js';

export interface RetentionLimits {
  readonly maxEvents: number;
  readonly maxBytes: number;
  /** How long an event stays (ms), and how much WAL behind the server's end it may pin. */
  readonly maxAgeMs: number;
  readonly maxWalBytes: number;
}

export interface RetainedEvent {
  /** Process-local sequence number: the index a subscriber's cursor points at. */
  readonly seq: number;
  readonly event: WalcastEvent;
  readonly bytes: number;
  /** When it was retained (ms since the epoch). */
  readonly at: number;
  /** Bytes of every event appended before it: distances in bytes between cursors. */
  readonly offset: number;
  /**
   * The bytes streams send for it, encoded by the first stream to take it and shared by
   * all (streams/sse encodeEvent): a field, not a WeakMap, which costs the collector per entry.
   */
  frame?: Buffer | undefined;
}

/** Where a client resuming after `lastEventId` starts reading. */
export type ResumePoint =
  | { readonly kind: 'resume'; readonly seq: number }
  /** Events after that ID may have been dropped: the client must refetch (`reset`). */
  | { readonly kind: 'reset' };

const ENTRY_OVERHEAD_BYTES = 160;

/** What an event holds in memory, roughly: its JSON, and a change's row values. */
function sizeOf(event: WalcastEvent): number {
  const image = event.type === 'change' ? event.image : undefined;
  return event.json.length + (image ? tupleBytes(image.new) + tupleBytes(image.old) : 0) + ENTRY_OVERHEAD_BYTES;
}

function tupleBytes(tuple: Tuple | null): number {
  let bytes = 0;
  if (tuple) for (const value of tuple) if (typeof value === 'string') bytes += value.length;
  return bytes;
}

export class RetentionLog {
  private entries: RetainedEvent[] = [];
  private start = 0;
  private nextSeqValue = 0;
  private totalBytes = 0;
  private appendedBytes = 0;
  /** The lowest ID a client may hold and still resume without a gap. */
  private floor: EventId;

  /**
   * @param horizon the slot's confirmed position when streaming began: every transaction
   *   that commits at or after it is replayed to us, anything before it is not.
   */
  constructor(
    private readonly limits: RetentionLimits,
    horizon: Lsn,
    private readonly now: () => number = Date.now,
  ) {
    this.floor = formatEventId(horizon, 0);
  }

  get size(): number {
    return this.entries.length - this.start;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  get nextSeq(): number {
    return this.nextSeqValue;
  }

  get firstSeq(): number {
    return this.nextSeqValue - this.size;
  }

  get headId(): EventId | undefined {
    return this.entries[this.entries.length - 1]?.event.id;
  }

  headCommitLsn(): Lsn | undefined {
    return this.entries[this.entries.length - 1]?.event.commitLsn;
  }

  /** The commit LSN of the oldest retained event: the slot must not be confirmed past it. */
  oldestCommitLsn(): Lsn | undefined {
    return this.entries[this.start]?.event.commitLsn;
  }

  /** Bytes of the events from `seq` to the head: how far behind a cursor at `seq` is. */
  bytesFrom(seq: number): number {
    const entry = this.at(seq);
    return entry ? this.appendedBytes - entry.offset : 0;
  }

  at(seq: number): RetainedEvent | undefined {
    return this.entries[this.start + seq - this.firstSeq];
  }

  /**
   * Appends in stream order. Two events may share an ID (a row moving between tenants is
   * a delete for one and an insert for the other); an ID behind the head or the floor
   * cannot be placed in order and is refused.
   */
  append(event: WalcastEvent): RetainedEvent | undefined {
    const head = this.headId;
    if ((head !== undefined && event.id < head) || event.id < this.floor) return undefined;
    const retained: RetainedEvent = {
      seq: this.nextSeqValue++,
      event,
      bytes: sizeOf(event),
      at: this.now(),
      offset: this.appendedBytes,
      frame: undefined,
    };
    this.appendedBytes += retained.bytes;
    this.entries.push(retained);
    this.totalBytes += retained.bytes;
    this.evict();
    return retained;
  }

  /**
   * The slot was lost and recreated at `horizon`: what happened before it cannot be
   * replayed, so nothing here can be resumed from any more.
   */
  restartAt(horizon: Lsn): void {
    this.entries = [];
    this.start = 0;
    this.totalBytes = 0;
    this.floor = formatEventId(horizon, 0);
  }

  resumeFrom(position: ResumePosition): ResumePoint {
    if (position.kind === 'event') return this.resumeAfter(position.id);
    // Every transaction the snapshot did not see commits at or after `low`: all of them
    // must still be here. Which ones they are is the cursor's to say, so scan it all.
    const { low } = position.cursor;
    const before = low === 0n ? formatEventId(low, 0) : formatEventId((low - 1n) as Lsn, MAX_POSITION);
    return before < this.floor ? { kind: 'reset' } : { kind: 'resume', seq: this.firstSeq };
  }

  resumeAfter(lastEventId: EventId): ResumePoint {
    if (lastEventId < this.floor) return { kind: 'reset' };
    let low = this.start;
    let high = this.entries.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.entries[mid]!.event.id <= lastEventId) low = mid + 1;
      else high = mid;
    }
    return { kind: 'resume', seq: this.firstSeq + (low - this.start) };
  }

  /**
   * Drops events past their age, and those pinning more than the allowed WAL behind the
   * server's current end, so an idle publication on a busy database never holds WAL.
   */
  expire(serverWalEnd: Lsn | undefined): void {
    const oldestAllowed = this.now() - this.limits.maxAgeMs;
    const walFloor = serverWalEnd === undefined ? 0n : serverWalEnd - BigInt(this.limits.maxWalBytes);
    while (this.size > 0) {
      const oldest = this.entries[this.start]!;
      if (oldest.at >= oldestAllowed && oldest.event.commitLsn >= walFloor) break;
      this.dropOldest();
    }
    this.compact();
  }

  private evict(): void {
    // The newest event stays whatever its size: it is what the slot is confirmed up to.
    while (this.size > 1 && (this.size > this.limits.maxEvents || this.totalBytes > this.limits.maxBytes)) this.dropOldest();
    this.compact();
  }

  private dropOldest(): void {
    const dropped = this.entries[this.start]!;
    this.start++;
    this.totalBytes -= dropped.bytes;
    // A client holding exactly the dropped ID still has everything after it here.
    this.floor = dropped.event.id;
  }

  private compact(): void {
    if (this.start > 4096 && this.start * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.start);
      this.start = 0;
    }
  }
}
