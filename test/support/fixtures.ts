// The pgoutput fixtures of test/fixtures/pgoutput/ (captured from a real Postgres by
// test/fixtures/capture.mjs), and the event pipeline built around one of them.
import { readFileSync } from 'node:fs';
import { createEventPipeline, type EventPipeline } from '../../src/events/event-pipeline.js';
import type { WalcastEvent } from '../../src/events/event.js';
import { ExposureCatalog, type Exposure } from '../../src/events/exposure.js';
import { RetentionLog } from '../../src/events/retention.js';
import type { ColumnType } from '../../src/events/values.js';
import { createLogger } from '../../src/log.js';
import { parseLsn, type Lsn } from '../../src/replication/lsn.js';
import { PgoutputDecoder, type PgoutputMessage } from '../../src/replication/pgoutput.js';

export type Scenario =
  | 'default-identity'
  | 'full-identity'
  | 'toast'
  | 'messages'
  | 'large-transaction'
  | 'rollback'
  | 'partitions'
  | 'listed'
  | 'expose-live'
  | 'truncate'
  | 'origin';

export interface PgoutputFixture {
  readonly scenario: Scenario;
  readonly about: string;
  /** The server version it was captured from. */
  readonly postgres: string;
  readonly publication: string;
  /** What made the messages, in order. */
  readonly sql: readonly string[];
  /** What walcast.exposed_tables held before the SQL ran (sql/exposure-store). */
  readonly exposures: readonly Exposure[];
  /** The OID of walcast.exposed_tables, whose rows in the stream are configuration. */
  readonly configRelid: number;
  /** Column type OID → its type as sql/type-store resolved it on that server. */
  readonly types: Readonly<Record<string, ColumnType>>;
  /** pg_logical_slot_get_binary_changes rows: `data` is one pgoutput message, in hex. */
  readonly messages: readonly { readonly lsn: string; readonly xid: string; readonly data: string }[];
}

export function loadFixture(scenario: Scenario): PgoutputFixture {
  return JSON.parse(readFileSync(new URL(`../fixtures/pgoutput/${scenario}.json`, import.meta.url), 'utf8')) as PgoutputFixture;
}

/** The fixture's messages through one decoder, as one replication connection would decode them. */
export function decodeFixture(fixture: PgoutputFixture): PgoutputMessage[] {
  const decoder = new PgoutputDecoder();
  return fixture.messages.map(({ data }) => decoder.decode(Buffer.from(data, 'hex')));
}

/** The WAL position each message was read at (the `lsn` column). */
export function positionsOf(fixture: PgoutputFixture): Lsn[] {
  return fixture.messages.map(({ lsn }) => parseLsn(lsn));
}

export interface FixtureRig {
  readonly pipeline: EventPipeline;
  readonly retention: RetentionLog;
  /** Each publish() call: one committed transaction's events. */
  readonly published: WalcastEvent[][];
  /** Contents of logical messages with the `walcast.test` prefix, as handed on. */
  readonly testMessages: string[];
  /** Decodes and hands on every message of the fixture, waiting whenever the pipeline pauses. */
  run(): Promise<void>;
}

export function fixtureRig(fixture: PgoutputFixture, options: { maxTxnChanges?: number } = {}): FixtureRig {
  const retention = new RetentionLog({ maxEvents: 1_000_000, maxBytes: 1e12, maxAgeMs: 1e12, maxWalBytes: 1e12 }, 1n as Lsn);
  const catalog = new ExposureCatalog(fixture.publication, fixture.exposures, fixture.configRelid);
  const published: WalcastEvent[][] = [];
  const testMessages: string[] = [];
  const pipeline = createEventPipeline({
    catalog,
    lookup: {
      typeOf: (oid) => fixture.types[String(oid)] ?? { kind: 'scalar', oid },
      prepareTypes: () => undefined,
    },
    retention,
    maxTxnChanges: options.maxTxnChanges ?? 10_000,
    publish: (events) => void published.push(events.map((entry) => entry.event)),
    log: createLogger('silent'),
    messages: new Map([['walcast.test', (content: Buffer) => void testMessages.push(content.toString('utf8'))]]),
  });
  return {
    pipeline,
    retention,
    published,
    testMessages,
    async run() {
      for (const message of decodeFixture(fixture)) await pipeline.handle(message);
    },
  };
}

/** An event's `data:` payload, parsed. */
export function payloadOf(event: WalcastEvent): Record<string, unknown> {
  return JSON.parse(event.json) as Record<string, unknown>;
}
