// What crosses the wire from walcast to a client (DESIGN §3, §4), as the SDK reads it.
export type { ChangeEvent, JsonValue, Member, PresenceEvent, RefetchEvent, Row, Snapshot } from '../wire/payloads.js';
