import { describe, expect, it } from 'vitest';
import type { WalcastEvent } from '../../src/events/event.js';
import { cursorFromSnapshot, formatCursor, isNewTo, parseResumePosition } from '../../src/events/resume-point.js';
import { formatEventId } from '../../src/events/event-id.js';
import type { Lsn } from '../../src/replication/lsn.js';

const event = (commitLsn: bigint, xid: number) => ({ id: formatEventId(commitLsn as Lsn, 0), commitLsn, xid }) as unknown as WalcastEvent;

describe('snapshot cursors', () => {
  it('round-trip through their text form', () => {
    const cursor = cursorFromSnapshot('100:105:101,103', 0x10n as Lsn, 0x20n as Lsn);
    const text = formatCursor(cursor);
    expect(text).toBe('S0000000000000010-0000000000000020-69-65.67');
    expect(parseResumePosition(text)).toEqual({ kind: 'snapshot', cursor });
    expect(formatCursor(cursorFromSnapshot('7:7:', 1n as Lsn, 2n as Lsn))).toBe('S0000000000000001-0000000000000002-7');
  });

  it('refuse anything else with a 400, and pass event IDs through', () => {
    for (const bad of ['S', 'S123', 'Sxyz-1-2', `S${'0'.repeat(16)}-${'0'.repeat(16)}-1-`, `S${'0'.repeat(16)}-${'0'.repeat(16)}-${'1.'.repeat(5000)}1`]) {
      expect(() => parseResumePosition(bad), bad).toThrow(/snapshot cursor/);
    }
    expect(parseResumePosition('00000000016B3748-000003')).toEqual({ kind: 'event', id: '00000000016B3748-000003' });
  });

  it('call a transaction new when it commits after the snapshot or was not visible to it', () => {
    const isNew = isNewTo({ kind: 'snapshot', cursor: cursorFromSnapshot('100:105:101,103', 0x10n as Lsn, 0x20n as Lsn) });
    expect(isNew(event(0x18n, 99))).toBe(false); // committed before, visible
    expect(isNew(event(0x18n, 102))).toBe(false); // below xmax, not in progress: visible
    expect(isNew(event(0x18n, 101))).toBe(true); // in progress at the snapshot, committed before `high`
    expect(isNew(event(0x18n, 105))).toBe(true); // started after the snapshot
    expect(isNew(event(0x20n, 50))).toBe(true); // committed at or after `high`
  });

  it('compare xids across the 32-bit wraparound as Postgres does', () => {
    const xmax = (1n << 32n) + 5n; // epoch 1, xid 5
    const isNew = isNewTo({ kind: 'snapshot', cursor: { low: 0n as Lsn, high: 0x100n as Lsn, xmax, xip: [] } });
    expect(isNew(event(0x10n, 0xffff_fff0))).toBe(false); // just before the wrap: older
    expect(isNew(event(0x10n, 6))).toBe(true);
  });
});
