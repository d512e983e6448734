// What crosses the wire from walcast to a client (DESIGN §3, §4), as the SDK reads it.

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type Row = Record<string, JsonValue>;

export interface ChangeEvent {
  readonly id: string;
  readonly table: string;
  readonly op: 'insert' | 'update' | 'delete';
  readonly tenant?: string;
  readonly key: Row;
  readonly row?: Row;
  readonly old?: Row;
  readonly unchanged?: readonly string[];
  readonly xid: string;
}

/** `truncate` and `invalidate`: the table must be read again. */
export interface RefetchEvent {
  readonly id?: string;
  readonly table: string;
  readonly reason?: string;
}

export interface Member {
  readonly user: string;
  readonly connection: string;
  readonly state: Row;
}

export type PresenceEvent =
  | { readonly room: string; readonly op: 'sync'; readonly members: readonly Member[] }
  | { readonly room: string; readonly op: 'join' | 'update' | 'leave'; readonly member: Member };

export interface Snapshot {
  readonly table: string;
  readonly keyColumns: readonly string[];
  readonly versionColumn: string | null;
  readonly cursor: string;
  readonly rows: readonly Row[];
}
