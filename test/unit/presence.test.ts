import { describe, expect, it } from 'vitest';
import { PresenceRooms, type PresenceMessage } from '../../src/presence/rooms.js';

const beat = (user: string, at: number, state: Record<string, unknown> = {}, tenant = 'acme'): PresenceMessage => ({
  op: 'beat',
  tenant,
  room: 'lobby',
  user,
  connection: 'c1',
  state,
  at,
  ttlMs: 1_000,
});

describe('presence rooms', () => {
  it('joins, updates only when the state changes, and leaves', () => {
    const rooms = new PresenceRooms();
    expect(rooms.apply(beat('ann', 0), 0)).toMatchObject({ op: 'join', member: { user: 'ann' } });
    expect(rooms.apply(beat('ann', 100), 100)).toBeUndefined();
    expect(rooms.apply(beat('ann', 200, { typing: true }), 200)).toMatchObject({ op: 'update', member: { state: { typing: true } } });
    expect(rooms.members('acme', 'lobby')).toHaveLength(1);
    expect(rooms.apply({ ...beat('ann', 300), op: 'leave' }, 300)).toMatchObject({ op: 'leave' });
    expect(rooms.members('acme', 'lobby')).toEqual([]);
  });

  it('keeps tenants apart: acme’s lobby is not globex’s', () => {
    const rooms = new PresenceRooms();
    rooms.apply(beat('ann', 0), 0);
    rooms.apply(beat('bob', 0, {}, 'globex'), 0);
    expect(rooms.members('acme', 'lobby').map((member) => member.user)).toEqual(['ann']);
    expect(rooms.members('globex', 'lobby').map((member) => member.user)).toEqual(['bob']);
  });

  it('expires members after their TTL, and ignores replayed heartbeats whose time is up', () => {
    const rooms = new PresenceRooms();
    rooms.apply(beat('ann', 0), 0);
    rooms.apply(beat('bob', 500), 500);
    expect(rooms.expire(1_000).map((change) => [change.op, change.member.user])).toEqual([['leave', 'ann']]);
    expect(rooms.apply(beat('ann', 0), 5_000)).toBeUndefined();
    expect(rooms.members('acme', 'lobby').map((member) => member.user)).toEqual(['bob']);
  });
});
