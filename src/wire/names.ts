// Every header, query parameter and SSE name that crosses the wire, in one place: the
// server and the SDK both read them from here.

export const HEADER = {
  authorization: 'authorization',
  lastEventId: 'last-event-id',
  requestId: 'x-request-id',
  cursor: 'walcast-cursor',
  idempotencyKey: 'idempotency-key',
  ifMatch: 'if-match',
  retryAfter: 'retry-after',
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
  /** `paged=false` with `limit`: the first rows only, no `next` page and no snapshot held for one. */
  paged: 'paged',
} as const;

/** `where.<table>=`: a filter for one table of a stream (DESIGN §11). */
export const TABLE_WHERE_PREFIX = `${QUERY.where}.`;

/** The SSE `event:` names walcast sends (DESIGN §3, §5). */
export const SSE_EVENT = {
  change: 'change',
  truncate: 'truncate',
  invalidate: 'invalidate',
  reset: 'reset',
  authExpired: 'auth_expired',
  presence: 'presence',
} as const;

export type SseEventName = (typeof SSE_EVENT)[keyof typeof SSE_EVENT];

/** What a client may put in `rooms=` and `room`: 1 to 100 printable characters, no commas. */
export const ROOM_NAME = /^[^\u0000-\u001f\u007f,]{1,100}$/;

/** Reconnect delay suggested to EventSource clients (`retry:`). */
export const SSE_RETRY_MS = 2_000;
/** Comment lines keep proxies from closing idle streams; DESIGN asks for at least every 15 s. */
export const SSE_KEEPALIVE_MS = 10_000;
/** The most a keepalive may be late: a client hearing nothing for longer may treat the stream as dropped. */
export const SSE_KEEPALIVE_MAX_MS = 15_000;
