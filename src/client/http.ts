// JSON requests to walcast with the caller's token; a 401 asks the app for a new token
// once before giving up.
import { errorOf, networkError } from './errors.js';
import type { TokenSource } from './tokens.js';

export interface Http {
  readonly baseUrl: string;
  readonly tokens: TokenSource;
  readonly fetch: typeof fetch;
}

export interface RequestSpec {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  readonly path: string;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  readonly signal?: AbortSignal;
}

export function urlOf(http: Http, path: string): string {
  return `${http.baseUrl.replace(/\/+$/, '')}${path}`;
}

/** Sends `spec`; resolves with the 2xx response, else throws a WalcastClientError. */
export async function send(http: Http, spec: RequestSpec): Promise<Response> {
  let retriedAuth = false;
  for (;;) {
    const token = await http.tokens.current();
    let response: Response;
    try {
      response = await http.fetch(urlOf(http, spec.path), {
        method: spec.method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(spec.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...spec.headers,
        },
        ...(spec.body === undefined ? {} : { body: JSON.stringify(spec.body) }),
        ...(spec.signal ? { signal: spec.signal } : {}),
      });
    } catch (error) {
      if (spec.signal?.aborted) throw error;
      throw networkError(error);
    }
    if (response.ok) return response;
    if (response.status === 401 && !retriedAuth && http.tokens.refreshable) {
      retriedAuth = true;
      await response.body?.cancel();
      await http.tokens.refresh();
      continue;
    }
    throw await errorOf(response);
  }
}

/** Longer than any answer takes (a snapshot page is bounded); past it, a network error. */
const DEADLINE_MS = 30_000;

/**
 * Sends `spec` and reads its JSON answer within DEADLINE_MS: fetch has no deadline, and a
 * request sent into a dead pooled connection, or to a proxy gone silent, would wait for
 * ever. Its callers retry network errors (an edit with the same idempotency key).
 */
export async function sendJson<T>(http: Http, spec: RequestSpec): Promise<T> {
  const deadline = new AbortController();
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    deadline.abort();
  }, DEADLINE_MS);
  const abort = () => deadline.abort(spec.signal?.reason);
  spec.signal?.addEventListener('abort', abort);
  if (spec.signal?.aborted) abort();
  try {
    const response = await send(http, { ...spec, signal: deadline.signal });
    return (response.status === 204 ? undefined : await response.json()) as T;
  } catch (error) {
    throw late ? networkError(new Error(`no answer within ${DEADLINE_MS} ms`)) : error;
  } finally {
    clearTimeout(timer);
    spec.signal?.removeEventListener('abort', abort);
  }
}
