// Property-based tests (fast-check) for the parts that read untrusted or arbitrary input:
// event IDs, value decoders, and tenant routing of events to streams (filters: filters.test.ts).
import { claimTenantKeys, tenantKey } from '../../src/events/tenant-key.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WalcastError } from '../../src/errors.js';
import { formatEventId, parseEventId } from '../../src/events/event-id.js';
import type { WalcastEvent } from '../../src/events/event.js';
import { tableName } from '../../src/events/exposure.js';
import { RetentionLog } from '../../src/events/retention.js';
import { decoderFor } from '../../src/events/values.js';
import type { Lsn } from '../../src/replication/lsn.js';
import { createHub } from '../../src/streams/hub.js';
import type { Sink } from '../../src/http/exchange.js';
import { Subscriber } from '../../src/streams/subscriber.js';

const onlyWalcastErrors = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    if (!(error instanceof WalcastError) || error.status !== 400) throw error;
  }
};

describe('event IDs', () => {
  const lsn = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
  const position = fc.integer({ min: 0, max: 0xff_ffff });

  it('round-trip, and sort as (commit LSN, position) does', () => {
    fc.assert(
      fc.property(lsn, position, lsn, position, (l1, p1, l2, p2) => {
        const a = formatEventId(l1 as Lsn, p1);
        const b = formatEventId(l2 as Lsn, p2);
        expect(parseEventId(a)).toEqual({ commitLsn: l1, position: p1 });
        const tupleOrder = l1 === l2 ? Math.sign(p1 - p2) : l1 < l2 ? -1 : 1;
        expect(a < b ? -1 : a > b ? 1 : 0).toBe(tupleOrder);
      }),
    );
  });

  it('refuse any other string with a 400, never anything worse', () => {
    fc.assert(fc.property(fc.string({ maxLength: 80 }), (text) => onlyWalcastErrors(() => parseEventId(text))));
  });
});

describe('value decoders', () => {
  const oids = [16, 17, 20, 21, 23, 25, 26, 114, 700, 701, 1082, 1083, 1114, 1184, 1266, 1700, 2950, 3802];

  it('always write valid JSON for any text of a non-JSON type', () => {
    fc.assert(
      fc.property(fc.constantFrom(...oids.filter((oid) => oid !== 114 && oid !== 3802)), fc.string(), (oid, text) => {
        const value = oid === 17 ? `\\x${Buffer.from(text).toString('hex')}` : text;
        expect(() => JSON.parse(decoderFor({ kind: 'scalar', oid })(value))).not.toThrow();
      }),
    );
  });

  it('keep text exact and read back arrays of any shape, NULLs and quoting included', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        expect(JSON.parse(decoderFor({ kind: 'scalar', oid: 25 })(text))).toBe(text);
      }),
    );
    const element = fc.oneof(
      fc.string({ minLength: 0, maxLength: 8 }).filter((s) => !s.includes('\u0000')),
      fc.constant(null),
    );
    const literal = (items: (string | null)[]) =>
      `{${items.map((item) => (item === null ? 'NULL' : `"${item.replace(/["\\]/g, (c) => `\\${c}`)}"`)).join(',')}}`;
    fc.assert(
      fc.property(
        fc
          .array(fc.array(element, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 4 })
          .filter((rows) => rows.every((row) => row.length === rows[0]!.length)),
        (matrix) => {
          const text = `{${matrix.map(literal).join(',')}}`;
          expect(JSON.parse(decoderFor({ kind: 'array', elementOid: 25 })(text))).toEqual(matrix);
        },
      ),
    );
  });
});

describe('tenant routing', () => {
  /** A response that records what a stream was sent. */
  function recorder() {
    const frames: string[] = [];
    const sink: Sink = {
      write: (chunk) => void frames.push(chunk.toString()),
      full: false,
      onDrain: () => undefined,
      end: () => undefined,
      destroy: () => undefined,
    };
    return { frames, sink };
  }

  it('never delivers an event to another tenant’s stream, whatever the mix', () => {
    const tenants = ['acme', 'globex', 'initech'];
    const event = fc.record({ tenant: fc.option(fc.constantFrom(...tenants), { nil: null }), relid: fc.constantFrom(1, 2, 3) });
    const subscriber = fc.record({ tenant: fc.constantFrom(...tenants), tables: fc.option(fc.subarray([1, 2, 3], { minLength: 1 }), { nil: null }) });
    fc.assert(
      fc.property(fc.array(event, { maxLength: 40 }), fc.array(subscriber, { minLength: 1, maxLength: 6 }), (events, subscribers) => {
        const log = new RetentionLog({ maxEvents: 1_000, maxBytes: 1e9, maxAgeMs: 1e9, maxWalBytes: 1e9 }, 1n as Lsn);
        const hub = createHub({ retention: log, now: () => 0 });
        const streams = subscribers.map((spec) => {
          const { frames, sink } = recorder();
          const stream = new Subscriber({
            sink,
            filter: {
              tenant: spec.tenant,
              sub: 'alice',
              tenantKeys: new Set(claimTenantKeys(spec.tenant)),
              tables: spec.tables && new Set(spec.tables),
              predicates: new Map(),
              rooms: new Set(),
            },
            isNew: undefined,
            startSeq: log.nextSeq,
            expiresAt: undefined,
            maxLagBytes: 1e9,
            onSent: () => undefined,
            onClose: () => undefined,
          });
          hub.add(stream);
          return { spec, frames };
        });
        events.forEach((spec, i) => {
          const commitLsn = BigInt(i + 1) as Lsn;
          const id = formatEventId(commitLsn, 0);
          const walcastEvent: WalcastEvent = {
            id,
            type: 'invalidate',
            tenant: spec.tenant,
            tenantKey: spec.tenant === null ? null : tenantKey('text', spec.tenant)!,
            relid: spec.relid,
            table: tableName('public', `t${spec.relid}`),
            commitLsn,
            xid: i,
            json: JSON.stringify({ id, tenant: spec.tenant, relid: spec.relid }),
          };
          hub.publish([log.append(walcastEvent)!]);
        });
        hub.closeAll();
        for (const { spec, frames } of streams) {
          // Writes may carry several frames (one write per stream per turn): split them.
          const messages = frames
            .join('')
            .split('\n\n')
            .filter((message) => message.startsWith('id: '));
          const received = messages.map((message) => JSON.parse(/data: (.*)/.exec(message)![1]!) as { tenant: string | null; relid: number });
          for (const got of received) {
            expect(got.tenant === null || got.tenant === spec.tenant).toBe(true);
            expect(spec.tables === null || spec.tables.includes(got.relid)).toBe(true);
          }
          const expected = events.filter((e) => (e.tenant === null || e.tenant === spec.tenant) && (spec.tables === null || spec.tables.includes(e.relid)));
          expect(received).toHaveLength(expected.length);
        }
      }),
    );
  });
});
