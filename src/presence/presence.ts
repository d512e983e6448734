// The presence shell of one instance: messages from its replication stream → room state
// → presence events on the streams that follow the room; and expiry on a timer. Only
// messages signed with walcast.presence_key count: the rest are forgeries, dropped.
import type { Logger } from '../log.js';
import { verifiedBody } from './message-auth.js';
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
  /** walcast.presence_key: what authentic messages are signed with. */
  readonly key: Buffer;
  /** A message that did not verify: counted (walcast_forged_messages_total). */
  readonly onForged: () => void;
  readonly log: Logger;
  readonly now?: () => number;
}): Presence {
  const rooms = new PresenceRooms();
  const now = deps.now ?? Date.now;
  const publish = (change: PresenceChange) =>
    deps.publish(change.tenant, change.room, JSON.stringify({ room: change.room, op: change.op, member: change.member }));
  return {
    receive(content) {
      const body = verifiedBody(deps.key, content);
      if (body === undefined) {
        deps.onForged();
        deps.log.warn({ bytes: content.length }, 'dropped a walcast.presence message without a valid MAC (not sent by walcast)');
        return;
      }
      let message: PresenceMessage;
      try {
        message = PresenceMessage.parse(JSON.parse(body));
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
