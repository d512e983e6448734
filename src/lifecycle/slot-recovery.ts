// When the slot is lost (dropped, or invalidated by max_slot_wal_keep_size), a new one is
// made: what happened in between cannot be replayed, so the window restarts at the new
// slot's position and every stream gets `reset`. /readyz says when it happened.
import type { RetentionLog } from '../events/retention.js';
import type { Lsn } from '../replication/lsn.js';
import { recreateSlot } from '../replication/slot.js';
import type { Hub } from '../streams/hub.js';

export interface SlotRecovery {
  recover(): Promise<Lsn>;
  /** ISO time of the last recovery, if any. */
  lostAt(): string | undefined;
}

const RESET_REASON = 'the replication slot was lost and recreated; changes in between are unknown: refetch your snapshot';

export function slotRecovery(deps: {
  readonly databaseUrl: string;
  readonly slotName: string;
  readonly retention: RetentionLog;
  readonly hub: Hub;
  readonly now: () => number;
}): SlotRecovery {
  let lostAt: string | undefined;
  return {
    async recover() {
      const horizon = await recreateSlot(deps.databaseUrl, deps.slotName);
      deps.retention.restartAt(horizon);
      deps.hub.resetAll(RESET_REASON);
      lostAt = new Date(deps.now()).toISOString();
      return horizon;
    },
    lostAt: () => lostAt,
  };
}
