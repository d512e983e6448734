// walcast.presence_key (sql/002): the key presence messages are signed with. Readable by
// walcast's owner and its server roles only; read once at start.
import type pg from 'pg';

export async function loadPresenceKey(db: Pick<pg.Pool, 'query'>): Promise<Buffer> {
  const { rows } = await db.query<{ key: Buffer }>('select key from walcast.presence_key');
  return rows[0]!.key;
}
