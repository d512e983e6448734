// The acknowledgement rule (src/replication/acknowledgement.ts) driven the way the
// replication connection drives it: decoded messages captured from Postgres, keepalives
// between them, and a standby status update after each.
import { describe, expect, it } from 'vitest';
import {
  flushPosition,
  NO_PROGRESS,
  progressAfterKeepalive,
  progressAfterMessage,
  shouldReport,
  type Progress,
} from '../../src/replication/acknowledgement.js';
import { ZERO_LSN, type Lsn } from '../../src/replication/lsn.js';
import type { Commit, PgoutputMessage } from '../../src/replication/pgoutput.js';
import { decodeFixture, loadFixture } from '../support/fixtures.js';

/** One replication connection's bookkeeping, as src/replication/replication-stream.ts keeps it. */
function connection(options: { confirmedFlush?: Lsn; held?: () => Lsn | undefined } = {}) {
  let progress: Progress = NO_PROGRESS;
  let confirmed = options.confirmedFlush ?? ZERO_LSN;
  let released = false;
  const reports: Lsn[] = [];
  /** The status update, if one goes out: what Postgres would store as confirmed_flush_lsn. */
  const status = (force: boolean) => {
    const flush = flushPosition({ processed: progress.processed, held: options.held?.(), confirmed, releasedForShutdown: released });
    if (!shouldReport(flush, confirmed, force)) return;
    reports.push(flush);
    confirmed = flush;
  };
  return {
    reports,
    get confirmed() {
      return confirmed;
    },
    get progress() {
      return progress;
    },
    message(message: PgoutputMessage) {
      progress = progressAfterMessage(progress, message);
    },
    keepalive(walEnd: Lsn, shouldRespond = false) {
      progress = progressAfterKeepalive(progress, walEnd);
      status(shouldRespond);
    },
    timer: () => status(false),
    postgresStopping() {
      released = true;
      status(true);
    },
  };
}

const fixture = decodeFixture(loadFixture('default-identity'));
const commits = fixture.filter((message): message is Commit => message.tag === 'commit');

describe('the acknowledgement rule', () => {
  it('reports the end of each committed transaction, and never a position inside one', () => {
    const conn = connection();
    let transaction: Commit | undefined;
    let lastEnd = ZERO_LSN;
    for (const message of fixture) {
      conn.message(message);
      if (message.tag === 'begin') transaction = commits.find((commit) => commit.commitLsn === message.commitLsn);
      // The server has read this transaction's commit before it sends any of it: its
      // keepalives in between name WAL past the end of what we have processed.
      conn.keepalive(transaction!.endLsn);
      if (message.tag === 'commit') lastEnd = message.endLsn;
      expect(conn.confirmed).toBe(lastEnd);
    }
    expect(conn.reports).toEqual(commits.map((commit) => commit.endLsn));
  });

  it('holds the slot at the oldest retained event, wherever processing is', () => {
    const oldest = commits[1]!.commitLsn;
    const conn = connection({ held: () => oldest });
    for (const message of fixture) conn.message(message);
    conn.keepalive(commits.at(-1)!.endLsn);
    expect(conn.progress.processed).toBe(commits.at(-1)!.endLsn);
    expect(conn.confirmed).toBe(oldest);
    // A retained event from before the first transaction: nothing processed may be reported past it.
    expect(flushPosition({ processed: commits.at(-1)!.endLsn, held: commits[0]!.commitLsn, confirmed: ZERO_LSN, releasedForShutdown: false })).toBe(
      commits[0]!.commitLsn,
    );
  });

  it('lets go of retained events once Postgres is shutting down', () => {
    const held = commits[0]!.commitLsn;
    const conn = connection({ held: () => held });
    for (const message of fixture) conn.message(message);
    conn.keepalive(commits.at(-1)!.endLsn, true);
    expect(conn.confirmed).toBe(held);
    conn.postgresStopping();
    expect(conn.confirmed).toBe(commits.at(-1)!.endLsn);
  });

  it('counts keepalives inside a transaction for nothing, also when asked to reply', () => {
    const conn = connection();
    const second = fixture.indexOf(commits[0]!) + 1;
    for (const message of fixture.slice(0, second + 1)) conn.message(message);
    expect(fixture[second]!.tag).toBe('begin');
    for (let walEnd = commits[1]!.endLsn; walEnd < commits.at(-1)!.endLsn; walEnd = (walEnd + 8n) as Lsn) conn.keepalive(walEnd, true);
    expect(new Set(conn.reports)).toEqual(new Set([commits[0]!.endLsn]));
    for (const message of fixture.slice(second + 1, fixture.indexOf(commits[1]!) + 1)) conn.message(message);
    conn.timer();
    expect(conn.confirmed).toBe(commits[1]!.endLsn);
  });

  it('moves past an empty transaction (Begin, Commit, nothing between)', () => {
    const conn = connection();
    const empty = fixture.filter((message) => message.tag === 'begin' || message.tag === 'commit').slice(0, 2);
    for (const message of empty) conn.message(message);
    conn.timer();
    expect(conn.confirmed).toBe(commits[0]!.endLsn);
  });

  it('after a restart behind the confirmed position, never reports less than Postgres already has', () => {
    // The slot had confirmed up to the last transaction; the server replays from before it.
    const conn = connection({ confirmedFlush: commits.at(-1)!.endLsn });
    for (const message of fixture) {
      conn.message(message);
      conn.keepalive(commits[0]!.endLsn);
      expect(conn.confirmed).toBe(commits.at(-1)!.endLsn);
    }
    // Only a keepalive that asks for a reply sends the same position again.
    expect(conn.reports).toEqual([]);
    conn.keepalive(commits[0]!.endLsn, true);
    expect(conn.reports).toEqual([commits.at(-1)!.endLsn]);
  });

  it('follows an idle publication forward with keepalives, and stops at a retained event', () => {
    let held: Lsn | undefined;
    const conn = connection({ held: () => held });
    const start = commits.at(-1)!.endLsn;
    for (let step = 0n; step < 5n; step++) conn.keepalive((start + step * 0x100n) as Lsn);
    expect(conn.reports).toEqual([0n, 1n, 2n, 3n, 4n].map((step) => start + step * 0x100n));
    held = (start + 0x450n) as Lsn;
    conn.keepalive((start + 0x1000n) as Lsn);
    expect(conn.confirmed).toBe(held);
    held = undefined; // the event left retention
    conn.timer();
    expect(conn.confirmed).toBe(start + 0x1000n);
  });

  it('sends nothing before anything is processed, even when asked to reply', () => {
    const conn = connection();
    conn.keepalive(ZERO_LSN, true);
    conn.timer();
    expect(conn.reports).toEqual([]);
  });
});
