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
import { Subscriber } from '../../src/streams/subscriber.js';

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
