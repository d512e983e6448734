// The acknowledgement rule: which WAL position the replication connection may report to
// Postgres as flushed (the standby status update that moves confirmed_flush_lsn). Pure.
//
// Never past min(end of the last fully processed transaction, commit LSN of the oldest
// retained event), so after a crash Postgres replays everything a client might still ask
// for; never lower than reported before; and no longer held back by retained events once
// Postgres is shutting down, since it waits for each logical walsender's client to
// confirm everything sent.
import { maxLsn, minLsn, ZERO_LSN, type Lsn } from './lsn.js';
import type { PgoutputMessage } from './pgoutput.js';

/** How far the connection has processed the WAL. */
export interface Progress {
  /** Between a Begin and its Commit, where a keepalive's position is inside the transaction. */
  readonly inTransaction: boolean;
  /** End of the last WAL fully processed. */
  readonly processed: Lsn;
}

export const NO_PROGRESS: Progress = { inTransaction: false, processed: ZERO_LSN };

/** After a decoded message has been handed on: a transaction is processed at its Commit's end. */
export function progressAfterMessage(progress: Progress, message: PgoutputMessage): Progress {
  if (message.tag === 'begin') return { inTransaction: true, processed: progress.processed };
  if (message.tag === 'commit') return { inTransaction: false, processed: maxLsn(progress.processed, message.endLsn) };
  return progress;
}

/**
 * After a keepalive: everything the server sent before it has been handled (one socket, in
 * order), so outside a transaction its WAL end is processed too. Inside one, the rest of
 * the transaction is still to come.
 */
export function progressAfterKeepalive(progress: Progress, walEnd: Lsn): Progress {
  return progress.inTransaction ? progress : { inTransaction: false, processed: maxLsn(progress.processed, walEnd) };
}

export interface FlushState {
  readonly processed: Lsn;
  /** Commit LSN of the oldest event still retained, if any. */
  readonly held: Lsn | undefined;
  /** The position last reported (at first, the slot's confirmed_flush_lsn). */
  readonly confirmed: Lsn;
  /** Postgres is shutting down: retained events no longer hold the slot back. */
  readonly releasedForShutdown: boolean;
}

/** The position to report as flushed now. */
export function flushPosition(state: FlushState): Lsn {
  const held = state.releasedForShutdown ? undefined : state.held;
  const safe = held === undefined ? state.processed : minLsn(state.processed, held);
  return maxLsn(safe, state.confirmed);
}

/** Whether to send a status update: a new position, or a keepalive asked for a reply (`force`). */
export function shouldReport(flush: Lsn, confirmed: Lsn, force: boolean): boolean {
  return flush !== ZERO_LSN && (force || flush !== confirmed);
}
