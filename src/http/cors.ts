// CORS for browsers on other origins: only the configured ones (WALCAST_CORS_ORIGINS),
// none by default outside the embedded demo. Tokens travel in headers or the URL, never in
// cookies, so credentials are never allowed, and `*` is never turned into an echo.
import type { HttpRequest, HttpResponse } from './exchange.js';

const ALLOWED_HEADERS = 'authorization, content-type, if-match, idempotency-key, last-event-id, x-request-id';
const EXPOSED_HEADERS = 'etag, walcast-cursor, retry-after, idempotent-replayed, x-request-id';
const MAX_AGE_SECONDS = '600';

/** The CORS headers of an answer to `origin`; undefined when it is not an origin served. */
export function corsHeaders(origins: readonly string[]): (origin: string | undefined) => Record<string, string> | undefined {
  const any = origins.includes('*');
  const allowed = new Set(origins);
  return (origin) => {
    if (origin === undefined || (!any && !allowed.has(origin))) return undefined;
    return {
      'access-control-allow-origin': any ? '*' : origin,
      ...(any ? {} : { vary: 'Origin' }),
      'access-control-expose-headers': EXPOSED_HEADERS,
    };
  };
}

export function cors(origins: readonly string[]) {
  const headersFor = corsHeaders(origins);
  return function cors(request: HttpRequest, response: HttpResponse, next: () => void): void {
    const origin = request.headers.origin;
    const headers = headersFor(origin);
    if (!headers) {
      // Not a cross-origin call we serve: no CORS headers, and a preflight gets nothing to go on.
      if (request.method === 'OPTIONS' && origin !== undefined) {
        response.statusCode = 204;
        response.end();
        return;
      }
      next();
      return;
    }
    for (const [name, value] of Object.entries(headers)) response.setHeader(name, value);
    if (request.method === 'OPTIONS') {
      response.setHeader('access-control-allow-methods', 'GET, POST, PATCH, DELETE');
      response.setHeader('access-control-allow-headers', ALLOWED_HEADERS);
      response.setHeader('access-control-max-age', MAX_AGE_SECONDS);
      response.statusCode = 204;
      response.end();
      return;
    }
    next();
  };
}
