// Every header, query parameter and SSE name that crosses the wire, in one place.

export const HEADER = {
  authorization: 'authorization',
  lastEventId: 'last-event-id',
  requestId: 'x-request-id',
  cursor: 'walcast-cursor',
} as const;

export const QUERY = {
  accessToken: 'access_token',
  tables: 'tables',
  lastEventId: 'lastEventId',
  rooms: 'rooms',
  room: 'room',
  where: 'where',
  limit: 'limit',
  page: 'page',
} as const;

export const SSE_EVENT = {
  change: 'change',
  truncate: 'truncate',
  invalidate: 'invalidate',
  reset: 'reset',
  authExpired: 'auth_expired',
  presence: 'presence',
} as const;

/** Reconnect delay suggested to EventSource clients (`retry:`). */
export const SSE_RETRY_MS = 2_000;
/** Comment lines keep proxies from closing idle streams; DESIGN asks for at least every 15 s. */
export const SSE_KEEPALIVE_MS = 10_000;
