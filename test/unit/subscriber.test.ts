// A stream's writes under a burst: what one turn gathers is bounded, and a socket that
// cannot take more sends the stream back to the log instead of holding the burst.
import { claimTenantKeys, tenantKey } from '../../src/events/tenant-key.js';
import { describe, expect, it } from 'vitest';
import { formatEventId } from '../../src/events/event-id.js';
import type { WalcastEvent } from '../../src/events/event.js';
import { tableName } from '../../src/events/exposure.js';
import { RetentionLog } from '../../src/events/retention.js';
import type { Lsn } from '../../src/replication/lsn.js';
import { createHub } from '../../src/streams/hub.js';
import type { Sink } from '../../src/http/exchange.js';
import { Subscriber, type TableFilter } from '../../src/streams/subscriber.js';

/** A socket with a 256 KiB buffer that nobody reads. */
function stuckResponse() {
  const writes: number[] = [];
  const sink: Sink = {
    full: false,
    write(chunk) {
      writes.push(Buffer.byteLength(chunk));
      (sink as { full: boolean }).full = writes.reduce((sum, bytes) => sum + bytes, 0) > 256 * 1024;
    },
    onDrain: () => undefined,
    end: () => undefined,
    destroy: () => undefined,
  };
  return { writes, sink };
}

describe('Subscriber under a burst', () => {
  it('writes at most ~64 KiB at a time and stops taking events once the socket is full', () => {
    const log = new RetentionLog({ maxEvents: 100_000, maxBytes: 1e9, maxAgeMs: 1e9, maxWalBytes: 1e9 }, 1n as Lsn);
    const hub = createHub({ retention: log, now: () => 0 });
    const { writes, sink } = stuckResponse();
    const stream = new Subscriber({
      sink,
      filter: { tenant: 'acme', sub: 'alice', tenantKeys: new Set(claimTenantKeys('acme')), tables: null, predicates: new Map(), rooms: new Set() },
      isNew: undefined,
      startSeq: log.nextSeq,
      expiresAt: undefined,
      maxLagBytes: 1e9,
      onSent: () => undefined,
      onClose: () => undefined,
    });
    hub.add(stream);
    // One transaction of 5,000 rows of 1 KB, published in one turn.
    const padding = 'x'.repeat(1_000);
    const events = Array.from({ length: 5_000 }, (_, i) => {
      const id = formatEventId(10n as Lsn, i);
      const event: WalcastEvent = {
        id,
        type: 'invalidate',
        tenant: 'acme',
        tenantKey: tenantKey('text', 'acme')!,
        relid: 1,
        table: tableName('public', 't'),
        commitLsn: 10n as Lsn,
        xid: 7,
        json: JSON.stringify({ id, padding }),
      };
      return log.append(event)!;
    });
    hub.publish(events);
    expect(Math.max(...writes)).toBeLessThan(66 * 1024);
    const written = writes.reduce((sum, bytes) => sum + bytes, 0);
    expect(written).toBeGreaterThan(256 * 1024);
    expect(written).toBeLessThan(256 * 1024 + 66 * 1024);
    expect(stream.isLive).toBe(false);
    hub.closeAll();
  });
});

describe('a row policy that changes', () => {
  const newLog = () => new RetentionLog({ maxEvents: 1000, maxBytes: 1e9, maxAgeMs: 1e9, maxWalBytes: 1e9 }, 1n as Lsn);
  const invalidate = (position: number, reason: 'policy_changed' | 'transaction_too_large', tenant: string | null): WalcastEvent => {
    const id = formatEventId(10n as Lsn, position);
    const key = tenant === null ? null : tenantKey('text', tenant)!;
    return {
      id,
      type: 'invalidate',
      reason,
      tenant,
      tenantKey: key,
      relid: 1,
      table: tableName('public', 't'),
      commitLsn: 10n as Lsn,
      xid: 7,
      json: JSON.stringify({ id }),
    };
  };
  function stream(ids: string[], rebinds: number[], predicates: Map<number, TableFilter>) {
    const sink: Sink = {
      full: false,
      write: (chunk) => void ids.push(...[...chunk.toString().matchAll(/^id: (.*)$/gm)].map((match) => match[1]!)),
      onDrain: () => undefined,
      end: () => undefined,
      destroy: () => undefined,
    };
    return new Subscriber({
      sink,
      filter: { tenant: 'acme', sub: 'ann', tenantKeys: new Set(claimTenantKeys('acme')), tables: new Set([1]), predicates, rooms: new Set() },
      isNew: undefined,
      startSeq: 0,
      expiresAt: undefined,
      maxLagBytes: 1e9,
      onSent: () => undefined,
      onClose: () => undefined,
      // A dropped policy and no where=: bound again without a query.
      rebind: async (relid) => {
        rebinds.push(relid);
        return undefined;
      },
    });
  }
  const turn = () => new Promise((resolve) => setImmediate(resolve));

  it('keeps the log order when the table is bound again within the turn', async () => {
    const log = newLog();
    const hub = createHub({ retention: log, now: () => 0 });
    const ids: string[] = [];
    hub.add(stream(ids, [], new Map()));
    const retained = [
      invalidate(0, 'transaction_too_large', 'acme'),
      invalidate(1, 'policy_changed', null),
      invalidate(2, 'transaction_too_large', 'acme'),
    ].map((event) => log.append(event)!);
    hub.publish(retained);
    await turn();
    await turn();
    expect(ids).toEqual(retained.map(({ event }) => event.id));
    hub.closeAll();
  });

  it('reaches a stream whose policy matches no row at the moment', async () => {
    const log = newLog();
    const hub = createHub({ retention: log, now: () => 0 });
    const ids: string[] = [];
    const rebinds: number[] = [];
    // owner_id=eq.$claim.owner with no such claim: a cover of no key.
    const nothing: TableFilter = { matches: () => false, cover: [{ column: 'owner_id', keys: new Set(), keyOf: (text) => text }] };
    hub.add(stream(ids, rebinds, new Map([[1, nothing]])));
    hub.publish([log.append(invalidate(0, 'policy_changed', null))!]);
    await turn();
    expect(rebinds).toEqual([1]);
    expect(ids).toEqual([formatEventId(10n as Lsn, 0)]);
    hub.closeAll();
  });
});
