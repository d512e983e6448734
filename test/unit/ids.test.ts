import { describe, expect, it } from 'vitest';
import { WalcastError } from '../../src/errors.js';
import { formatEventId, parseEventId } from '../../src/events/event-id.js';
import { formatLsn, lsnFromBigInt, parseLsn } from '../../src/replication/lsn.js';

describe('LSNs', () => {
  it('parse both spellings Postgres and the library use to the same number', () => {
    expect(parseLsn('0/16B3748')).toBe(0x16b3748n);
    expect(parseLsn('00000000/016B3748')).toBe(0x16b3748n);
    expect(parseLsn('1/0')).toBe(1n << 32n);
    expect(formatLsn(parseLsn('A/FF'))).toBe('A/FF');
  });

  it('reject anything else', () => {
    for (const bad of ['', '0', '0/', 'x/1', '0/123456789', '0/1 ']) expect(() => parseLsn(bad)).toThrow(RangeError);
  });
});

describe('event IDs', () => {
  it('are the commit LSN in 16 upper-case hex digits and the position in 6', () => {
    expect(formatEventId(lsnFromBigInt(0x16b3748n), 3)).toBe('00000000016B3748-000003');
    expect(parseEventId('00000000016B3748-000003')).toEqual({ commitLsn: 0x16b3748n, position: 3 });
  });

  it('sort as strings in stream order', () => {
    const ids = [
      formatEventId(lsnFromBigInt(0x1_0000_0000n), 0),
      formatEventId(lsnFromBigInt(0xffff_ffffn), 0xffffff),
      formatEventId(lsnFromBigInt(0xffff_ffffn), 1),
      formatEventId(lsnFromBigInt(0x10n), 0xa),
    ];
    expect([...ids].sort()).toEqual([ids[3], ids[2], ids[1], ids[0]]);
  });

  it('reject malformed client input with INVALID_EVENT_ID', () => {
    for (const bad of ['', 'garbage', '00000000016b3748-000003', '00000000016B3748-3', '00000000016B3748_000003', '00000000016B3748-000003\n']) {
      expect(() => parseEventId(bad)).toThrow(WalcastError);
    }
  });
});
