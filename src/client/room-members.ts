// Who is in a room, from the stream's presence events (DESIGN §3): `sync` lists everyone,
// then `join`, `update` and `leave` change one member (a user's connection).
import type { Member, PresenceEvent } from './types.js';

const memberId = (member: Member) => `${member.user}\u0000${member.connection}`;

export function applyPresence(members: Map<string, Member>, event: PresenceEvent): void {
  if (event.op === 'sync') {
    members.clear();
    for (const member of event.members) members.set(memberId(member), member);
  } else if (event.op === 'leave') {
    members.delete(memberId(event.member));
  } else {
    members.set(memberId(event.member), event.member);
  }
}
