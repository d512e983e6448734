// The JSON walcast sends (DESIGN §3, §4), as a client reads it.

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type Row = Record<string, JsonValue>;

export type ChangeOp = 'insert' | 'update' | 'delete';

/** `event: change`. */
export interface ChangeEvent {
  readonly id: string;
  readonly table: string;
  readonly op: ChangeOp;
  readonly tenant?: string | null;
  readonly key: Row;
  readonly row?: Row;
  readonly old?: Row;
  readonly changed?: readonly string[];
  readonly unchanged?: readonly string[];
  readonly xid: string;
  readonly lsn: string;
  readonly committedAt: string;
}

/** `truncate` and `invalidate`: the table must be read again. */
export interface RefetchEvent {
  readonly id?: string;
  readonly table: string;
  readonly tenant?: string | null;
  readonly reason?: string;
}

/** `reset`: the resume point is gone; every table must be read again. */
export interface ResetEvent {
  readonly reason: string;
}

export interface Member {
  readonly user: string;
  readonly connection: string;
  readonly state: Row;
}

export type PresenceEvent =
  | { readonly room: string; readonly op: 'sync'; readonly members: readonly Member[] }
  | { readonly room: string; readonly op: 'join' | 'update' | 'leave'; readonly member: Member };

/** GET /v1/tables/:table/rows. */
export interface Snapshot {
  readonly table: string;
  readonly keyColumns: readonly string[];
  readonly versionColumn: string | null;
  readonly cursor: string;
  readonly rows: readonly Row[];
  readonly next?: string | null;
}

/** Every error answer: `{ "error": "<code>", "message": "…" }`, with more fields for some codes. */
export interface ErrorBody {
  readonly error: string;
  readonly message: string;
  readonly [field: string]: unknown;
}
