// The thin Postgres shell of filters: a value is read by Postgres as its column's type and
// written back as that type's output text (what pgoutput and snapshots send), so no
// Postgres input syntax is re-implemented here and both sides of every comparison are the
// same function's output. Results are cached, and concurrent asks for the same value
// share one query: thousands of streams opening with one filter cost one round trip.
import { LRUCache } from 'lru-cache';
import pg from 'pg';
import { TEXT_FORMAT } from '../replication/text-format.js';
import { RAW_TEXT } from '../sql/text-format.js';
import type { Canonicalize, CanonicalRequest, CanonicalResult } from './resolve-filter.js';

export interface CanonicalizerOptions {
  /** Characters of cached keys and results (default 4 Mi). */
  readonly maxCacheSize?: number;
  /** How long a canonical text is reused (default 10 min): an enum label renamed, a time zone rule changed. */
  readonly ttlMs?: number;
  /** How long a refusal is (default 10 s): an enum label added is soon accepted. */
  readonly refusalTtlMs?: number;
}

export interface Canonicalizer {
  readonly canonicalize: Canonicalize;
  /** Queries sent to Postgres so far (one per batch of up to 500 values, more to find which of a batch it refused). */
  readonly queries: number;
}

/** Parameters per query, well below the protocol's 65535. */
const BATCH = 500;

// Local to the transaction, so the pooled connection keeps its own settings.
const BEGIN = `begin read only; select ${Object.entries(TEXT_FORMAT)
  .map(([name, value]) => `set_config(${pg.escapeLiteral(name)}, ${pg.escapeLiteral(value)}, true)`)
  .join(', ')}`;

/** Relative to the clock (`now`, `today`…): read afresh each time, never cached. */
const RELATIVE = /now|today|tomorrow|yesterday/i;

/** Data exceptions (22xxx: bad syntax, out of range) and a domain's constraints (23xxx) refuse a value. */
function isRefusal(error: unknown): error is Error & { code: string } {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

/** Left unread: the batch held a refusal and the caller wanted only the first one. */
const UNREAD = undefined;
type Answer = CanonicalResult | typeof UNREAD;

interface Deferred {
  readonly promise: Promise<Answer>;
  resolve(answer: Answer): void;
  reject(error: unknown): void;
}

/** Promise.withResolvers, which Node 20 lacks. */
function deferred(): Deferred {
  let resolve!: (answer: Answer) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<Answer>((onResolve, onReject) => {
    resolve = onResolve;
    reject = onReject;
  });
  return { promise, resolve, reject };
}

function cacheKey(request: CanonicalRequest): string {
  return `${request.sqlType}\u0000${request.text}`;
}

/** After this many rounds a caller reads alone rather than wait on others' reads again. */
const SHARED_ROUNDS = 3;

export function createCanonicalizer(pool: Pick<pg.Pool, 'connect'>, options: CanonicalizerOptions = {}): Canonicalizer {
  const refusalTtl = options.refusalTtlMs ?? 10_000;
  const cache = new LRUCache<string, CanonicalResult>({
    maxSize: options.maxCacheSize ?? 4 * 1024 * 1024,
    sizeCalculation: (result, key) => key.length + (result.ok ? result.text.length : result.reason.length) + 64,
    ttl: options.ttlMs ?? 600_000,
  });
  const pending = new Map<string, Promise<Answer>>();
  let queries = 0;

  /**
   * Reads `requests` in one transaction. Postgres answers a batch with one error, so a
   * refused batch is halved until the refused values are found: all of them, or with
   * `firstRefusal` only the first (about 2·log2(n) queries, where all would take up to
   * 2n: a client's filter of 256 bad values must not cost 511 queries).
   */
  async function read(requests: readonly CanonicalRequest[], firstRefusal: boolean): Promise<Answer[]> {
    const client = await pool.connect();
    let refused = false;
    try {
      await client.query(BEGIN);
      const attempt = async (batch: readonly CanonicalRequest[]): Promise<Answer[]> => {
        if (refused && firstRefusal) return batch.map(() => UNREAD);
        try {
          queries++;
          const result = await client.query<(string | null)[]>({
            text: `select ${batch.map((request, i) => `$${i + 1}::${request.sqlType}`).join(', ')}`,
            values: batch.map((request) => request.text),
            rowMode: 'array',
            types: RAW_TEXT,
          });
          const row = result.rows[0]!;
          return batch.map((_, i) => {
            const text = row[i];
            return typeof text === 'string' ? { ok: true, text } : { ok: false, reason: 'it reads as NULL' };
          });
        } catch (error) {
          if (!isRefusal(error)) throw error;
          await client.query(`rollback; ${BEGIN}`);
          if (batch.length === 1) {
            refused = true;
            return [{ ok: false, reason: error.message }];
          }
          const middle = batch.length >> 1;
          const left = await attempt(batch.slice(0, middle));
          return [...left, ...(await attempt(batch.slice(middle)))];
        }
      };
      const answers: Answer[] = [];
      for (let start = 0; start < requests.length; start += BATCH) answers.push(...(await attempt(requests.slice(start, start + BATCH))));
      await client.query('rollback');
      client.release();
      return answers;
    } catch (error) {
      client.release(error instanceof Error ? error : true);
      throw error;
    }
  }

  /** One round: cached answers, others' reads in flight, and one read of the rest. */
  async function round(requests: readonly CanonicalRequest[], firstRefusal: boolean, shared: boolean): Promise<Answer[]> {
    const answers: Promise<Answer>[] = [];
    const fresh: { key: string; request: CanonicalRequest; settle: Deferred }[] = [];
    for (const request of requests) {
      const key = cacheKey(request);
      const known = cache.get(key);
      if (known) {
        answers.push(Promise.resolve(known));
        continue;
      }
      let answer = shared ? pending.get(key) : undefined;
      if (!answer) {
        const settle = deferred();
        answer = settle.promise;
        if (shared) pending.set(key, answer);
        fresh.push({ key, request, settle });
      }
      answers.push(answer);
    }
    if (fresh.length > 0) {
      try {
        const readAnswers = await read(
          fresh.map((entry) => entry.request),
          firstRefusal,
        );
        fresh.forEach(({ key, request, settle }, i) => {
          const answer = readAnswers[i];
          if (answer && !RELATIVE.test(request.text)) cache.set(key, answer, answer.ok ? {} : { ttl: refusalTtl });
          settle.resolve(answer);
        });
      } catch (error) {
        for (const { settle } of fresh) settle.reject(error);
      } finally {
        for (const { key, settle } of fresh) if (pending.get(key) === settle.promise) pending.delete(key);
      }
    }
    return Promise.all(answers);
  }

  async function canonicalize(requests: readonly CanonicalRequest[], { firstRefusal = false } = {}): Promise<readonly Answer[]> {
    const answers: Answer[] = requests.map(() => UNREAD);
    let unread = requests.map((_, i) => i);
    // Another caller's read that stopped at its first refusal leaves some values unread: ask again.
    for (let rounds = 0; unread.length > 0; rounds++) {
      const got = await round(
        unread.map((i) => requests[i]!),
        firstRefusal,
        rounds < SHARED_ROUNDS,
      );
      unread = unread.filter((index, k) => {
        answers[index] = got[k];
        return got[k] === UNREAD;
      });
      if (firstRefusal && answers.some((answer) => answer?.ok === false)) break;
    }
    return answers;
  }

  return {
    canonicalize,
    get queries() {
      return queries;
    },
  };
}
