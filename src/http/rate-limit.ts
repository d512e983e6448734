// Per-user token buckets (tenant and sub), in memory per instance and bounded in size
// by an LRU: a flood of distinct users cannot grow it. Over the limit: 429 + Retry-After.
import { LRUCache } from 'lru-cache';
import { WalcastError } from '../errors.js';

interface Bucket {
  tokens: number;
  at: number;
}

export interface RateLimiter {
  /** Takes one token for `key` or throws RATE_LIMITED with the seconds to wait. */
  take(key: string): void;
}

const MAX_TRACKED = 100_000;
/** A burst may use up to this share of a minute's allowance at once. */
const BURST_SECONDS = 10;

export function createRateLimiter(perMinute: number, what: string, now: () => number = Date.now): RateLimiter {
  const perMs = perMinute / 60_000;
  const capacity = Math.max(1, Math.ceil(perMinute * (BURST_SECONDS / 60)));
  const buckets = new LRUCache<string, Bucket>({ max: MAX_TRACKED });
  return {
    take(key) {
      const time = now();
      const bucket = buckets.get(key) ?? { tokens: capacity, at: time };
      bucket.tokens = Math.min(capacity, bucket.tokens + (time - bucket.at) * perMs);
      bucket.at = time;
      if (bucket.tokens < 1) {
        const seconds = Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000));
        buckets.set(key, bucket);
        throw new WalcastError('RATE_LIMITED', `too many ${what}: at most ${perMinute} a minute`, {
          headers: { 'retry-after': String(seconds) },
          details: { retryAfterSeconds: seconds },
        });
      }
      bucket.tokens -= 1;
      buckets.set(key, bucket);
    },
  };
}
