// Prometheus metrics (DESIGN §9), on a registry per server so tests can run several.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  readonly registry: Registry;
  readonly changes: Counter;
  /** Counted in a plain number on the hot path (one add per write), folded in at scrape time. */
  readonly eventsSent: { add(count: number): void };
  readonly clients: Gauge;
  readonly retainedEvents: Gauge;
  readonly replicationLagBytes: Gauge;
  readonly slowClientDisconnects: Counter;
  readonly slotRetainedWal: Gauge<'slot'>;
  readonly slotUnseen: Gauge<'slot'>;
  /** Streams ended by a fault while serving them (DESIGN §4): each also logged once. */
  readonly streamFaults: Counter;
  /** Logical messages with walcast's prefix that walcast did not send (their MAC fails). */
  readonly forgedMessages: Counter;
  readonly httpRequests: Counter<'route' | 'method' | 'status'>;
}

export interface MetricSources {
  readonly clients: () => number;
  readonly retainedEvents: () => number;
  /** Server WAL position minus what we processed; undefined when unknown. */
  readonly replicationLagBytes: () => Promise<number | undefined>;
  /** walcast's slots in the database as last read (every few seconds, not at scrape time). */
  readonly slots: () => readonly SlotMetric[];
}

export interface SlotMetric {
  readonly slot: string;
  readonly retainedBytes: number;
  /** Seconds since the slot's instance was last seen (0 while it streams); undefined: no instance records it. */
  readonly unseenSeconds: number | undefined;
}

export function createMetrics(sources: MetricSources): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let sentSinceScrape = 0;
  new Counter({
    name: 'walcast_events_sent_total',
    help: 'Event messages written to clients',
    registers: [registry],
    collect() {
      this.inc(sentSinceScrape);
      sentSinceScrape = 0;
    },
  });
  return {
    registry,
    changes: new Counter({ name: 'walcast_changes_total', help: 'Row changes decoded from the WAL', registers: [registry] }),
    eventsSent: {
      add(count) {
        sentSinceScrape += count;
      },
    },
    clients: new Gauge({
      name: 'walcast_clients',
      help: 'Open SSE streams',
      registers: [registry],
      collect() {
        this.set(sources.clients());
      },
    }),
    retainedEvents: new Gauge({
      name: 'walcast_retained_events',
      help: 'Events held for resume',
      registers: [registry],
      collect() {
        this.set(sources.retainedEvents());
      },
    }),
    replicationLagBytes: new Gauge({
      name: 'walcast_replication_lag_bytes',
      help: 'Server WAL position minus the last processed position',
      registers: [registry],
      async collect() {
        const lag = await sources.replicationLagBytes();
        if (lag !== undefined) this.set(lag);
      },
    }),
    slotRetainedWal: new Gauge({
      name: 'walcast_slot_retained_wal_bytes',
      help: 'WAL each walcast slot of the database makes Postgres keep',
      labelNames: ['slot'],
      registers: [registry],
      collect() {
        this.reset();
        for (const slot of sources.slots()) this.set({ slot: slot.slot }, slot.retainedBytes);
      },
    }),
    slotUnseen: new Gauge({
      name: 'walcast_slot_unseen_seconds',
      help: 'Seconds since the instance of each walcast slot was last seen (0 while it streams); a departed one is dropped past WALCAST_SLOT_ORPHAN_AFTER',
      labelNames: ['slot'],
      registers: [registry],
      collect() {
        this.reset();
        for (const slot of sources.slots()) if (slot.unseenSeconds !== undefined) this.set({ slot: slot.slot }, Math.round(slot.unseenSeconds));
      },
    }),
    slowClientDisconnects: new Counter({
      name: 'walcast_slow_client_disconnects_total',
      help: 'Streams cut off because the client did not keep up',
      registers: [registry],
    }),
    streamFaults: new Counter({
      name: 'walcast_stream_faults_total',
      help: 'Streams ended by a fault while serving them (logged once each); other streams go on',
      registers: [registry],
    }),
    forgedMessages: new Counter({
      name: 'walcast_forged_messages_total',
      help: 'walcast.presence messages dropped because their MAC did not verify (emitted by a role that is not walcast)',
      registers: [registry],
    }),
    httpRequests: new Counter({
      name: 'walcast_http_requests_total',
      help: 'HTTP requests by route and status',
      labelNames: ['route', 'method', 'status'],
      registers: [registry],
    }),
  };
}
