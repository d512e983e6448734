// Who is in which room, per tenant, as every instance learns it from the WAL (pure state).
// Heartbeats carry the time they were sent and their TTL, so an instance replaying old
// WAL after a restart never brings back a member whose time is up.
import { z } from 'zod';
import { ROOM_NAME } from '../wire/names.js';

export const PRESENCE_MESSAGE_PREFIX = 'walcast.presence';

/** Room names: what a client may put in `rooms=`: short, printable, no commas. */
export const RoomName = z.string().regex(ROOM_NAME, 'must be 1 to 100 printable characters, without commas');

/** A `walcast.presence` logical message (non-transactional: it arrives at once). */
export const PresenceMessage = z.object({
  op: z.enum(['beat', 'leave']),
  tenant: z.string(),
  room: z.string(),
  user: z.string(),
  connection: z.string(),
  state: z.record(z.string(), z.unknown()),
  /** Sender's clock, ms since the epoch. */
  at: z.number(),
  ttlMs: z.number().int().positive(),
});
export type PresenceMessage = z.infer<typeof PresenceMessage>;

export interface Member {
  readonly user: string;
  readonly connection: string;
  readonly state: Readonly<Record<string, unknown>>;
}

export interface PresenceChange {
  readonly tenant: string;
  readonly room: string;
  readonly op: 'join' | 'update' | 'leave';
  readonly member: Member;
}

interface Entry {
  member: Member;
  stateJson: string;
  expiresAt: number;
}

const roomKey = (tenant: string, room: string) => `${tenant}\u0000${room}`;
const memberKey = (user: string, connection: string) => `${user}\u0000${connection}`;

export class PresenceRooms {
  private readonly rooms = new Map<string, Map<string, Entry>>();

  members(tenant: string, room: string): Member[] {
    return [...(this.rooms.get(roomKey(tenant, room))?.values() ?? [])].map((entry) => entry.member);
  }

  apply(message: PresenceMessage, now: number): PresenceChange | undefined {
    const key = roomKey(message.tenant, message.room);
    const room = this.rooms.get(key);
    const id = memberKey(message.user, message.connection);
    const existing = room?.get(id);
    const { tenant, room: name } = message;
    if (message.op === 'leave') {
      if (!existing) return undefined;
      this.remove(key, id);
      return { tenant, room: name, op: 'leave', member: existing.member };
    }
    const expiresAt = message.at + message.ttlMs;
    if (expiresAt <= now) return undefined; // a replayed heartbeat whose time is up
    const member: Member = { user: message.user, connection: message.connection, state: message.state };
    const stateJson = JSON.stringify(message.state);
    if (existing) {
      existing.expiresAt = Math.max(existing.expiresAt, expiresAt);
      if (existing.stateJson === stateJson) return undefined;
      existing.member = member;
      existing.stateJson = stateJson;
      return { tenant, room: name, op: 'update', member };
    }
    const entries = room ?? new Map<string, Entry>();
    if (!room) this.rooms.set(key, entries);
    entries.set(id, { member, stateJson, expiresAt });
    return { tenant, room: name, op: 'join', member };
  }

  /** Members whose last heartbeat is older than its TTL leave. */
  expire(now: number): PresenceChange[] {
    const changes: PresenceChange[] = [];
    for (const [key, room] of this.rooms) {
      const [tenant, name] = key.split('\u0000') as [string, string];
      for (const [id, entry] of room) {
        if (entry.expiresAt > now) continue;
        this.remove(key, id);
        changes.push({ tenant, room: name, op: 'leave', member: entry.member });
      }
    }
    return changes;
  }

  private remove(key: string, id: string): void {
    const room = this.rooms.get(key);
    room?.delete(id);
    if (room?.size === 0) this.rooms.delete(key);
  }
}
