// The presence shell of one instance: messages from its replication stream → room state
// → presence events on the streams that follow the room; and expiry on a timer.
import type { Logger } from '../log.js';
import { PresenceMessage, PresenceRooms, type Member, type PresenceChange } from './rooms.js';

export interface Presence {
  /** A `walcast.presence` message's content, from the WAL. */
  receive(content: Buffer): void;
  /** Members whose TTL ran out leave. */
  expire(): void;
  members(tenant: string, room: string): Member[];
  /** The `sync` a stream following `room` starts with: who is there now (SSE data). */
  syncOf(tenant: string, room: string): string;
}

export function createPresence(deps: {
  readonly publish: (tenant: string, room: string, data: string) => void;
  readonly log: Logger;
  readonly now?: () => number;
}): Presence {
  const rooms = new PresenceRooms();
  const now = deps.now ?? Date.now;
  const publish = (change: PresenceChange) =>
    deps.publish(change.tenant, change.room, JSON.stringify({ room: change.room, op: change.op, member: change.member }));
  return {
    receive(content) {
      let message: PresenceMessage;
      try {
        message = PresenceMessage.parse(JSON.parse(content.toString('utf8')));
      } catch (error) {
        deps.log.warn({ err: error }, 'ignoring malformed walcast.presence message');
        return;
      }
      const change = rooms.apply(message, now());
      if (change) publish(change);
    },
    expire() {
      for (const change of rooms.expire(now())) publish(change);
    },
    members: (tenant, room) => rooms.members(tenant, room),
    syncOf: (tenant, room) => JSON.stringify({ room, op: 'sync', members: rooms.members(tenant, room) }),
  };
}
