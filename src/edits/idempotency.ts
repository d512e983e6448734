// Idempotency-Key (DESIGN §4): the key and its first response are stored in the same
// transaction as the edit. A retry with the same key and request gets that response and
// changes nothing, on any instance and after any restart; the same key with another
// request is a 422. Two concurrent requests with one key: the second waits on the
// first's row lock and then replays its response. Keys are the user's own: another user
// of the tenant sending the same key and request neither gets that response (a row its
// policy may hide) nor learns the key was used.
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { z } from 'zod';
import { WalcastError } from '../errors.js';

export const IdempotencyKey = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\u0021-\u007e]+$/, 'must be printable ASCII without spaces');

/** What was sent back the first time. */
export interface StoredResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export const KEY_LIFETIME = '24 hours';

/** Whose key it is: the token's tenant and subject. */
export interface KeyOwner {
  readonly tenant: string;
  readonly sub: string;
}

/** The key as stored, under its tenant: the subject's and the client's, apart. */
const storedKey = (owner: KeyOwner, key: string) => JSON.stringify([owner.sub, key]);

export function requestHash(parts: readonly unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

/**
 * Claims the key inside the caller's open transaction. Returns the stored response of an
 * earlier request with this key, or undefined when this request is the first.
 */
export async function claimKey(client: pg.ClientBase, owner: KeyOwner, clientKey: string, hash: string): Promise<StoredResponse | undefined> {
  const { tenant } = owner;
  const key = storedKey(owner, clientKey);
  // A key stored before keys were each user's (by the previous version: the day before, or
  // another instance during a rolling deploy) still answers the very same request, so a
  // retry across the upgrade changes nothing twice. It names no user: it answers only the
  // same request, and no key of the new form is read as one.
  if (!clientKey.startsWith('[')) {
    const { rows: earlier } = await client.query<{ request_hash: string; status: number; headers: Record<string, string>; body: string }>(
      `select request_hash, status, headers, body from walcast.idempotency_keys
        where tenant = $1 and key = $2 and status is not null and created_at >= now() - interval '${KEY_LIFETIME}'`,
      [tenant, clientKey],
    );
    const answered = earlier[0];
    if (answered?.request_hash === hash) return { status: answered.status, headers: answered.headers, body: answered.body };
  }
  await client.query(`delete from walcast.idempotency_keys where tenant = $1 and key = $2 and created_at < now() - interval '${KEY_LIFETIME}'`, [tenant, key]);
  const claimed = await client.query(`insert into walcast.idempotency_keys (tenant, key, request_hash) values ($1, $2, $3) on conflict do nothing`, [
    tenant,
    key,
    hash,
  ]);
  if (claimed.rowCount === 1) return undefined;
  const { rows } = await client.query<{ request_hash: string; status: number; headers: Record<string, string>; body: string }>(
    `select request_hash, status, headers, body from walcast.idempotency_keys where tenant = $1 and key = $2`,
    [tenant, key],
  );
  const first = rows[0]!;
  if (first.request_hash !== hash) {
    throw new WalcastError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used for a different request; use a new key for a new request');
  }
  return { status: first.status, headers: first.headers, body: first.body };
}

export async function storeResponse(client: pg.ClientBase, owner: KeyOwner, clientKey: string, response: StoredResponse): Promise<void> {
  await client.query(`update walcast.idempotency_keys set status = $3, headers = $4, body = $5 where tenant = $1 and key = $2`, [
    owner.tenant,
    storedKey(owner, clientKey),
    response.status,
    JSON.stringify(response.headers),
    response.body,
  ]);
}

export async function forgetExpiredKeys(db: Pick<pg.Pool, 'query'>): Promise<void> {
  await db.query(`delete from walcast.idempotency_keys where created_at < now() - interval '${KEY_LIFETIME}'`);
}
