// JSON requests to walcast with the caller's token; a 401 asks the app for a new token
// once before giving up.
import { errorOf, networkError } from './errors.js';
import { watchSilence } from './silence.js';
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

/** Silent this long (no answer, or a body that stopped coming): a network error. */
const SILENCE_MS = 30_000;

/**
 * Sends `spec` and reads its JSON answer, given up once nothing arrives for SILENCE_MS (a
 * large body still arriving is not silent). Callers retry network errors (an edit with
 * the same idempotency key).
 */
export async function sendJson<T>(http: Http, spec: RequestSpec): Promise<T> {
  const deadline = new AbortController();
  const abort = () => deadline.abort(spec.signal?.reason);
  spec.signal?.addEventListener('abort', abort);
  if (spec.signal?.aborted) abort();
  const silence = watchSilence(SILENCE_MS, () => deadline.abort());
  try {
    const response = await send(http, { ...spec, signal: deadline.signal });
    return (response.status === 204 ? undefined : JSON.parse(await textOf(response, silence.heard))) as T;
  } catch (error) {
    throw silence.silent ? networkError(new Error(`nothing arrived for ${SILENCE_MS} ms`)) : error;
  } finally {
    silence.stop();
    spec.signal?.removeEventListener('abort', abort);
  }
}

/** A response's body as text; `progress` is told of each chunk. */
async function textOf(response: Response, progress: () => void): Promise<string> {
  if (!response.body) return response.text();
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text + decoder.decode();
    progress();
    text += decoder.decode(value, { stream: true });
  }
}
