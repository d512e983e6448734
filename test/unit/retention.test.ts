import { describe, expect, it } from 'vitest';
import { formatEventId } from '../../src/events/event-id.js';
import type { WalcastEvent } from '../../src/events/event.js';
import { tableName } from '../../src/events/exposure.js';
import { RetentionLog } from '../../src/events/retention.js';
import { lsnFromBigInt } from '../../src/replication/lsn.js';

function event(lsn: bigint, position = 0): WalcastEvent {
  const commitLsn = lsnFromBigInt(lsn);
  return {
    id: formatEventId(commitLsn, position),
    type: 'invalidate',
    tenant: 't',
    tenantKey: null,
    relid: 1,
    xid: 1,
    table: tableName('public', 'x'),
    commitLsn,
    json: '{}',
  };
}

const LIMITS = { maxEvents: 10, maxBytes: 1e9, maxAgeMs: 60_000, maxWalBytes: 1e9 };

describe('the retention log', () => {
  it('resumes right after a retained ID and holds the slot at its oldest event', () => {
    const log = new RetentionLog(LIMITS, lsnFromBigInt(100n));
    for (const lsn of [100n, 200n, 300n]) log.append(event(lsn));
    expect(log.resumeAfter(event(200n).id)).toEqual({ kind: 'resume', seq: 2 });
    expect(log.resumeAfter(event(100n).id)).toEqual({ kind: 'resume', seq: 1 });
    expect(log.oldestCommitLsn()).toBe(100n);
  });

  it('answers an ID from before its horizon with reset', () => {
    const log = new RetentionLog(LIMITS, lsnFromBigInt(100n));
    expect(log.resumeAfter(event(99n).id)).toEqual({ kind: 'reset' });
  });

  it('lets an ID ahead of its head wait for the head to catch up', () => {
    const log = new RetentionLog(LIMITS, lsnFromBigInt(0n));
    log.append(event(100n));
    expect(log.resumeAfter(event(500n).id)).toEqual({ kind: 'resume', seq: 1 });
  });

  it('evicts by count and by bytes, after which older IDs reset but the last evicted one resumes', () => {
    const log = new RetentionLog({ ...LIMITS, maxEvents: 2 }, lsnFromBigInt(0n));
    for (const lsn of [10n, 20n, 30n, 40n]) log.append(event(lsn));
    expect(log.size).toBe(2);
    expect(log.resumeAfter(event(10n).id)).toEqual({ kind: 'reset' });
    expect(log.resumeAfter(event(20n).id)).toEqual({ kind: 'resume', seq: 2 });
    expect(log.oldestCommitLsn()).toBe(30n);

    const small = new RetentionLog({ ...LIMITS, maxEvents: 100, maxBytes: 400 }, lsnFromBigInt(0n));
    for (const lsn of [10n, 20n, 30n, 40n]) small.append(event(lsn));
    expect(small.bytes).toBeLessThanOrEqual(400);
  });

  it('refuses an event behind its head', () => {
    const log = new RetentionLog(LIMITS, lsnFromBigInt(0n));
    log.append(event(50n));
    expect(log.append(event(40n))).toBeUndefined();
    expect(log.append(event(50n))).toBeDefined();
  });

  it('expires events by age and by the WAL they pin, down to none, so the slot can advance', () => {
    let now = 0;
    const log = new RetentionLog({ ...LIMITS, maxAgeMs: 1_000, maxWalBytes: 1_000 }, lsnFromBigInt(0n), () => now);
    log.append(event(100n));
    now = 600;
    log.append(event(200n));
    now = 1_100;
    log.expire(undefined);
    expect(log.oldestCommitLsn()).toBe(200n);
    log.expire(lsnFromBigInt(1_250n));
    expect(log.size).toBe(0);
    expect(log.oldestCommitLsn()).toBeUndefined();
    expect(log.resumeAfter(event(200n).id)).toEqual({ kind: 'resume', seq: 2 });
    expect(log.resumeAfter(event(100n).id)).toEqual({ kind: 'reset' });
  });
});
