// Fans committed events out to the open streams: each event is encoded once and offered
// to the streams it can reach (streams/routing: by tenant, table, and the row's values
// where a stream's filter is indexed), which write it at the end of the turn.
import type { RetainedEvent, RetentionLog } from '../events/retention.js';
import { SSE_EVENT, SSE_KEEPALIVE_MS } from '../wire/names.js';
import { encodeEvent, formatSse, formatSseComment, formatSseRetry } from './sse.js';
import { Routing } from './routing.js';
import type { Subscriber } from './subscriber.js';
import type { TenantKey } from '../events/tenant-key.js';

export interface Hub {
  add(subscriber: Subscriber): void;
  remove(subscriber: Subscriber): void;
  /** A stream's filter for a table changed: it is found by its new cover from now on. */
  reroute(subscriber: Subscriber, relid: number): void;
  publish(events: readonly RetainedEvent[]): void;
  /** A presence event for the streams of a tenant (its presence key: events/tenant-key) that follow `room`. */
  publishPresence(tenant: TenantKey, room: string, data: string): void;
  readonly size: () => number;
  /** Open streams of one tenant. */
  readonly sizeOf: (tenant: string) => number;
  /** Every stream gets `reset` and goes on live (the history behind it was lost). */
  resetAll(reason: string): void;
  /**
   * Ends every stream (shutdown), each told to come back after `retry(stream)` ms so a
   * fleet's clients do not all reconnect at the same moment: to another instance.
   */
  closeAll(retry?: () => number): void;
}

export interface HubOptions {
  readonly retention: RetentionLog;
  readonly now: () => number;
  readonly keepaliveMs?: number;
}

const TICK_MS = 1000;

export function createHub(options: HubOptions): Hub {
  const routing = new Routing();
  const all = () => [...routing.streamsOf()];

  // Events are written once per turn of the event loop: when idle, a turn is a moment
  // after the event was decoded; under load, turns grow, and so do the batches, so each
  // stream costs one write per turn instead of one per event (bench keepup).
  let offered: Subscriber[] = [];
  let flushScheduled = false;
  function flush(): void {
    flushScheduled = false;
    const batch = offered;
    offered = [];
    // Streams of a tenant with the same filter got the same frames: joined once.
    let lastFrames: readonly Buffer[] = [];
    let lastBytes: Buffer | undefined;
    for (const subscriber of batch) {
      const frames = subscriber.pending;
      if (frames.length > 1 && !sameFrames(frames, lastFrames)) {
        // Not copied: a flush gives the stream a new batch array and leaves this one as is.
        lastFrames = frames;
        lastBytes = Buffer.concat(frames);
      }
      subscriber.flush(options.retention, frames.length > 1 ? lastBytes : undefined);
    }
  }

  // One timer for every stream: keepalive comments and token expiry (DESIGN §3, §5).
  // Keepalives are spread over their interval, a slice of the streams each tick: 10,000
  // comments written in one turn would hold up every event behind them (bench policies).
  const slots = Math.max(1, Math.round((options.keepaliveMs ?? SSE_KEEPALIVE_MS) / TICK_MS));
  let ticks = 0;
  const tick = setInterval(() => {
    const now = options.now();
    const slot = ticks++ % slots;
    for (const subscriber of all()) {
      subscriber.checkLag(options.retention);
      if (subscriber.expiresAt !== undefined && now >= subscriber.expiresAt) {
        subscriber.write(formatSse({ event: SSE_EVENT.authExpired, data: JSON.stringify({ reason: 'token expired' }) }));
        subscriber.close('expired');
      } else if (subscriber.serial % slots === slot) {
        subscriber.write(formatSseComment('keepalive'));
      }
    }
  }, TICK_MS);
  tick.unref();

  return {
    add(subscriber) {
      routing.add(subscriber);
      subscriber.replay(options.retention);
    },
    remove: (subscriber) => routing.remove(subscriber),
    reroute: (subscriber, relid) => routing.reroute(subscriber, relid),
    publish(events) {
      for (const retained of events) {
        // Encoded when a stream may take it: an event nobody follows (catching up with no
        // streams, a tenant with none open) is never framed.
        let frame: Buffer | undefined;
        routing.forEachCandidate(retained.event, (subscriber) => {
          frame ??= encodeEvent(retained);
          if (subscriber.offer(retained, frame, options.retention)) offered.push(subscriber);
        });
      }
      if (offered.length > 0 && !flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
      }
    },
    publishPresence(tenant, room, data) {
      const frame = formatSse({ event: SSE_EVENT.presence, data });
      for (const subscriber of routing.streamsOf(tenant)) if (subscriber.filter.rooms.has(room)) subscriber.writePresence(frame);
    },
    size: () => routing.size,
    sizeOf: (tenant) => routing.sizeOf(tenant),
    resetAll(reason) {
      const frame = formatSse({ event: SSE_EVENT.reset, data: JSON.stringify({ reason }) });
      for (const subscriber of all()) subscriber.reset(options.retention.nextSeq, frame);
    },
    closeAll(retry) {
      clearInterval(tick);
      for (const subscriber of all()) {
        if (retry) subscriber.write(formatSseRetry(retry()));
        subscriber.close('shutdown');
      }
    },
  };
}

function sameFrames(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index++) if (a[index] !== b[index]) return false;
  return true;
}
