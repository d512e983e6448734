// The SDK's pure parts: which events a snapshot holds (it must agree with the server's
// resume rule exactly), how a table's copy applies changes, and reconnect delays.
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { backoffDelay } from '../../src/client/backoff.js';
import { EventStream } from '../../src/client/event-stream.js';
import { sendJson } from '../../src/client/http.js';
import { TokenSource } from '../../src/client/tokens.js';
import { seenBy } from '../../src/client/cursor.js';
import { TableCopy, keyPathOf } from '../../src/client/table-copy.js';
import type { ChangeEvent } from '../../src/client/types.js';
import { formatEventId } from '../../src/events/event-id.js';
import type { WalcastEvent } from '../../src/events/event.js';
import { formatCursor, isNewTo, type SnapshotCursor } from '../../src/events/resume-point.js';
import { lsnFromBigInt } from '../../src/replication/lsn.js';

describe('seenBy (client) agrees with isNewTo (server)', () => {
  const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
  const cursor = fc
    .record({
      low: u64,
      high: u64,
      epoch: fc.bigInt({ min: 0n, max: 5n }),
      xmax: fc.integer({ min: 3, max: 0xffff_ffff }),
      xip: fc.array(fc.integer({ min: 3, max: 0xffff_ffff }), { maxLength: 5 }),
    })
    .map(
      ({ low, high, epoch, xmax, xip }): SnapshotCursor => ({
        low: lsnFromBigInt(low < high ? low : high),
        high: lsnFromBigInt(high),
        xmax: (epoch << 32n) | BigInt(xmax),
        xip: xip.map((xid) => (epoch << 32n) | BigInt(xid)),
      }),
    );

  it('on random cursors and events, wraparound included', () => {
    fc.assert(
      fc.property(cursor, u64, fc.integer({ min: 3, max: 0xffff_ffff }), fc.integer({ min: 0, max: 0xff_ffff }), (snapshot, commit, xid, position) => {
        // Events near the cursor's xids and LSN are where a mistake would hide.
        for (const eventXid of [xid, Number(snapshot.xmax & 0xffff_ffffn), ...snapshot.xip.map((value) => Number(value & 0xffff_ffffn))]) {
          for (const commitLsn of [lsnFromBigInt(commit), snapshot.high]) {
            const event = { id: formatEventId(commitLsn, position), commitLsn, xid: eventXid } as WalcastEvent;
            const server = isNewTo({ kind: 'snapshot', cursor: snapshot })(event);
            const client = seenBy(formatCursor(snapshot))({ id: event.id, xid: String(eventXid) });
            expect(client).toBe(!server);
          }
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('an event ID as cursor: IDs up to it', () => {
    const seen = seenBy('0000000000000010-000002');
    expect(seen({ id: '0000000000000010-000002', xid: '1' })).toBe(true);
    expect(seen({ id: '0000000000000010-000003', xid: '1' })).toBe(false);
  });
});

describe('TableCopy', () => {
  const snapshot = {
    table: 'public.docs',
    keyColumns: ['org', 'slug'],
    versionColumn: 'version',
    cursor: '0000000000000010-000000',
  };
  const read = () => {
    const copy = new TableCopy(snapshot);
    copy.addPage([{ org: 'a', slug: 'x,y', body: 'big', version: '1' }]);
    copy.finish();
    return copy;
  };
  const change = (fields: Partial<ChangeEvent>): ChangeEvent => ({
    id: '0000000000000020-000000',
    table: 'public.docs',
    op: 'update',
    key: {},
    xid: '9',
    lsn: '0/20',
    committedAt: '2026-01-01T00:00:00.000000Z',
    ...fields,
  });

  it('keeps an unchanged TOASTed value, follows key changes, and skips what the snapshot held', () => {
    const copy = read();
    expect(copy.apply(change({ id: '0000000000000010-000000', op: 'delete', key: { org: 'a', slug: 'x,y' } }))).toBe(false);
    copy.apply(change({ key: { org: 'a', slug: 'x,y' }, row: { org: 'a', slug: 'x,y', version: '2' }, unchanged: ['body'] }));
    expect([...copy.rows.values()]).toEqual([{ org: 'a', slug: 'x,y', body: 'big', version: '2' }]);
    copy.apply(change({ key: { org: 'a', slug: 'z' }, old: { org: 'a', slug: 'x,y' }, row: { org: 'a', slug: 'z', body: 'b', version: '3' } }));
    expect([...copy.rows.keys()]).toEqual([copy.keyOf({ org: 'a', slug: 'z' })]);
    copy.apply(change({ op: 'delete', key: { org: 'a', slug: 'z' } }));
    expect(copy.rows.size).toBe(0);
  });

  it('writes the edit path of a key as the server parses it', () => {
    const copy = read();
    expect(keyPathOf(copy.keyOf({ org: 'a b', slug: 'x,y' }))).toBe('a%20b,x%2Cy');
    expect(keyPathOf(JSON.stringify([42, '7']))).toBe('42,7');
  });
});

describe('backoffDelay', () => {
  it('grows exponentially under a ceiling, with full jitter', () => {
    const options = { initialMs: 250, maxMs: 15_000 };
    expect([0, 1, 2, 3].map((attempt) => backoffDelay(attempt, options, () => 1))).toEqual([250, 500, 1000, 2000]);
    expect(backoffDelay(40, options, () => 1)).toBe(15_000);
    expect(backoffDelay(5, options, () => 0)).toBe(0);
  });
});

describe('EventStream', () => {
  it('gives up on a request that is never answered (a dead pooled connection, a silent proxy) and asks again', async () => {
    const calls: number[] = [];
    const neverAnswered = ((_input: unknown, init?: RequestInit) => {
      calls.push(Date.now());
      if (calls.length > 1) return Promise.resolve(new Response('retry: 1000\n\n', { headers: { 'content-type': 'text/event-stream' } }));
      return new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(new Error('aborted'))));
    }) as typeof fetch;
    const errors: (string | undefined)[] = [];
    const stream = new EventStream({
      http: { baseUrl: 'http://walcast.test', tokens: new TokenSource('token'), fetch: neverAnswered },
      path: () => '/v1/stream',
      resumeFrom: () => undefined,
      onOpen: () => undefined,
      onMessage: () => undefined,
      onStatus: (_status, error) => void errors.push(error?.code),
      silenceMs: 200,
      backoff: { initialMs: 10, maxMs: 20 },
    });
    try {
      for (const deadline = Date.now() + 5_000; calls.length < 2 && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(calls.length).toBeGreaterThanOrEqual(2);
      expect(errors).toContain('stream_silent');
    } finally {
      stream.close();
    }
  });
});

describe('sendJson', () => {
  it('gives up on a request never answered after 30 s, as a network error its caller retries', async () => {
    vi.useFakeTimers();
    try {
      const neverAnswered = ((_input: unknown, init?: RequestInit) =>
        new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(new Error('aborted'))))) as typeof fetch;
      const answer = sendJson(
        { baseUrl: 'http://walcast.test', tokens: new TokenSource('token'), fetch: neverAnswered },
        { method: 'GET', path: '/v1/tables/todos/rows' },
      );
      const settled = expect(answer).rejects.toMatchObject({ code: 'network_error', retryable: true });
      await vi.advanceTimersByTimeAsync(30_000);
      await settled;
    } finally {
      vi.useRealTimers();
    }
  });

  it('reads a large answer to its end while it keeps arriving, past 30 s in all', async () => {
    vi.useFakeTimers();
    try {
      const parts = ['{"rows":[', ...Array.from({ length: 40 }, (_, i) => `${i === 0 ? '' : ','}${i}`), ']}'];
      let next = 0;
      // As fetch does: an aborted request's body fails.
      const trickle = ((_input: unknown, init?: RequestInit) =>
        Promise.resolve(
          new Response(
            new ReadableStream<Uint8Array>({
              start: (controller) => init?.signal?.addEventListener('abort', () => controller.error(new Error('aborted'))),
              pull: (controller) =>
                new Promise<void>((resolve) =>
                  setTimeout(() => {
                    if (next < parts.length) controller.enqueue(new TextEncoder().encode(parts[next++]));
                    else controller.close();
                    resolve();
                  }, 1_000),
                ),
            }),
          ),
        )) as typeof fetch;
      const answer = sendJson<{ rows: number[] }>(
        { baseUrl: 'http://walcast.test', tokens: new TokenSource('token'), fetch: trickle },
        { method: 'GET', path: '/v1/tables/todos/rows' },
      );
      await vi.advanceTimersByTimeAsync(50_000);
      expect((await answer).rows).toHaveLength(40);
    } finally {
      vi.useRealTimers();
    }
  });
});
