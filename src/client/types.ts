// What crosses the wire from walcast to a client (DESIGN §3, §4), as the SDK reads it.
import type { Snapshot } from '../wire/payloads.js';

export type { ChangeEvent, JsonValue, Member, PresenceEvent, RefetchEvent, Row, Snapshot } from '../wire/payloads.js';

/** What a snapshot says about its table, on every page. */
export type SnapshotMeta = Pick<Snapshot, 'table' | 'keyColumns' | 'versionColumn' | 'cursor'>;
