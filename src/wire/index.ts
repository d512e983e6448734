// The wire vocabulary shared by the server and the SDK. It imports nothing: the SDK may
// import it without pulling in any server module.
export { HEADER, QUERY, ROOM_NAME, SSE_EVENT, SSE_KEEPALIVE_MAX_MS, SSE_KEEPALIVE_MS, SSE_RETRY_MS, TABLE_WHERE_PREFIX, type SseEventName } from './names.js';
export type { ChangeEvent, ChangeOp, ErrorBody, JsonValue, Member, PresenceEvent, RefetchEvent, ResetEvent, Row, Snapshot } from './payloads.js';
export { formatCursor, MAX_CURSOR_LENGTH, parseCursor, snapshotSaw, type CommittedEvent, type CursorParts } from './cursor.js';
