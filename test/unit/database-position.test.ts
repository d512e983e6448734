// "Is this resume point past the database's WAL?" (streams/database-position): the reads it
// costs, and that "ahead" is only believed from a read that began after the question.
import { describe, expect, it } from 'vitest';
import type { Lsn } from '../../src/replication/lsn.js';
import { createDatabasePosition } from '../../src/streams/database-position.js';

const lsn = (value: number) => BigInt(value) as Lsn;

/** A database whose position the test moves; a read reports the position when it began, answered when released. */
function fakeServer(start: number) {
  let position = lsn(start);
  const pending: (() => void)[] = [];
  let reads = 0;
  return {
    read: () => {
      reads++;
      const started = position;
      return new Promise<Lsn>((resolve) => pending.push(() => resolve(started)));
    },
    move: (to: number) => {
      position = lsn(to);
    },
    answer: () => {
      for (const resolve of pending.splice(0)) resolve();
    },
    get reads() {
      return reads;
    },
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('database position', () => {
  it('answers "not ahead" from one read for every point at or below it, then asks again only for points past it', async () => {
    const server = fakeServer(1_000);
    const position = createDatabasePosition(server.read);
    const first = position.isAhead(lsn(500));
    server.answer();
    expect(await first).toBe(false);
    expect(await Promise.all([lsn(10), lsn(999), lsn(1_000)].map((point) => position.isAhead(point)))).toEqual([false, false, false]);
    expect(server.reads).toBe(1);
    const past = position.isAhead(lsn(5_000));
    await settle();
    server.answer();
    expect(await past).toBe(true);
    expect(server.reads).toBe(2);
  });

  it('shares reads between the clients of a storm: one in flight, and the next for all who asked meanwhile', async () => {
    const server = fakeServer(1_000);
    const position = createDatabasePosition(server.read);
    const first = position.isAhead(lsn(2_000));
    const storm = Array.from({ length: 50 }, () => position.isAhead(lsn(2_000)));
    await settle();
    expect(server.reads).toBe(1);
    server.answer();
    expect(await first).toBe(true);
    await settle();
    expect(server.reads).toBe(2);
    server.answer();
    expect(await Promise.all(storm)).toEqual(Array(50).fill(true));
    expect(server.reads).toBe(2);
  });

  it('believes "ahead" only from a read that began after the question: an ID committed during a read waits', async () => {
    const server = fakeServer(1_000);
    const position = createDatabasePosition(server.read);
    const early = position.isAhead(lsn(900));
    // A commit at 1500 reaches a client through a faster instance while the read is under way.
    server.move(1_500);
    const late = position.isAhead(lsn(1_400));
    await settle();
    server.answer();
    expect(await early).toBe(false);
    await settle();
    server.answer();
    expect(await late).toBe(false);
  });

  it('answers "not ahead" when the database cannot say (unreachable, a standby)', async () => {
    expect(await createDatabasePosition(() => Promise.reject(new Error('connection refused'))).isAhead(lsn(1))).toBe(false);
    expect(await createDatabasePosition(() => Promise.resolve(undefined)).isAhead(lsn(1))).toBe(false);
  });
});
