// A JWKS fetched from its URL, kept and refreshed, that fails closed without failing
// anyone out (DESIGN §5): while the set cannot be fetched, keys of the last good set keep
// working and a token naming any other key is "unavailable" (503, a stream retries),
// never "invalid" (401, which would sign users out over an outage of the identity
// provider). jose's createRemoteJWKSet cannot tell those apart, and drops a stale set
// even when its refetch fails.
//
//   no set ──fetch ok──► set ──older than maxAge──► set (refreshed in the background)
//     │                   │
//   fetch fails         unknown kid ─► refetch (at most once per cooldown)
//     ▼                   │                ├─ ok: that set decides (401 if the kid is still unknown)
//   unavailable           │                └─ fails: unavailable
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { WalcastError } from '../errors.js';

export interface RemoteKeySetOptions {
  readonly url: URL;
  /** A fetch that takes longer fails (jose's default: 5 s). */
  readonly timeoutMs?: number;
  /** After a fetch, how long a token with an unknown `kid` waits for the next (jose's default: 30 s). */
  readonly cooldownMs?: number;
  /** A set older than this is refreshed in the background while it goes on serving (10 min). */
  readonly maxAgeMs?: number;
  readonly now?: () => number;
}

/** Seconds a client is told to wait while the key set cannot be fetched. */
export const KEYS_UNAVAILABLE_RETRY_SECONDS = 5;
const MAX_JWKS_BYTES = 1024 * 1024;

export function keysUnavailable(cause?: unknown): WalcastError {
  return new WalcastError('AUTH_UNAVAILABLE', 'the keys that verify tokens cannot be fetched right now; retry shortly', {
    cause,
    headers: { 'retry-after': String(KEYS_UNAVAILABLE_RETRY_SECONDS) },
  });
}

async function fetchKeySet(url: URL, timeoutMs: number): Promise<ReturnType<typeof createLocalJWKSet>> {
  // The timeout covers the body too: an endpoint that answers headers and then stalls fails.
  const response = await fetch(url, {
    signal: AbortSignal.timeout(timeoutMs),
    redirect: 'manual',
    headers: { accept: 'application/json, application/jwk-set+json' },
  });
  if (response.status !== 200) throw new Error(`the JWKS endpoint answered ${response.status}`);
  const text = await response.text();
  if (text.length > MAX_JWKS_BYTES) throw new Error('the JWKS is too large');
  // Throws JWKSInvalid for anything but a key set: garbage never replaces a good set.
  return createLocalJWKSet(JSON.parse(text) as JSONWebKeySet);
}

export function createRemoteKeySet(options: RemoteKeySetOptions): JWTVerifyGetKey {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const cooldownMs = options.cooldownMs ?? 30_000;
  const maxAgeMs = options.maxAgeMs ?? 10 * 60_000;
  const now = options.now ?? Date.now;
  let local: ReturnType<typeof createLocalJWKSet> | undefined;
  let fetchedAt = -Infinity;
  let attemptedAt = -Infinity;
  let failed = false;
  let lastFailure: unknown;
  let pending: Promise<boolean> | undefined;

  /** One fetch at a time; resolves to whether it brought a set. Never rejects. */
  function refresh(): Promise<boolean> {
    pending ??= (async () => {
      attemptedAt = now();
      try {
        local = await fetchKeySet(options.url, timeoutMs);
        fetchedAt = now();
        failed = false;
        return true;
      } catch (error) {
        failed = true;
        lastFailure = error;
        return false;
      } finally {
        pending = undefined;
      }
    })();
    return pending;
  }

  const mayRefetch = () => now() - attemptedAt >= cooldownMs;

  return async function keyFromSet(header, token) {
    if (!local) {
      if (pending || mayRefetch()) await refresh();
      if (!local) throw keysUnavailable(lastFailure);
    }
    if (now() - fetchedAt >= maxAgeMs && mayRefetch()) void refresh();
    try {
      return await local(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      // A key we do not know: the set may have rotated since we fetched it.
      if (pending || mayRefetch()) {
        if (!(await refresh())) throw keysUnavailable(lastFailure);
        return local(header, token);
      }
      // Cooling down: known bad only if the last try worked.
      if (failed) throw keysUnavailable(lastFailure);
      throw error;
    }
  };
}
