// Decodes pgoutput messages (protocol version 1) into a discriminated union.
// Layouts: https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html
//
// We keep column values as the text Postgres sent. pg-logical-replication's own parser
// runs them through `pg`'s global type parsers (timestamptz → Date loses microseconds,
// and an unchanged TOAST value becomes `undefined`), so walcast plugs this decoder into
// the library's transport instead; typing happens later in `events/values`.
import { WalcastError } from '../errors.js';
import { lsnFromBigInt, type Lsn } from './lsn.js';

/** An unchanged TOASTed value: Postgres did not send it (DESIGN §3: never null, never "changed"). */
export const UNCHANGED_TOAST: unique symbol = Symbol('unchanged-toast');
export type TupleValue = string | null | typeof UNCHANGED_TOAST;
/** Column values in the relation's column order. */
export type Tuple = readonly TupleValue[];

export type ReplicaIdentity = 'default' | 'nothing' | 'full' | 'index';

export interface RelationColumn {
  readonly name: string;
  readonly typeOid: number;
  readonly typeMod: number;
  /** Part of the replica identity (not necessarily the primary key). */
  readonly isIdentity: boolean;
}

export interface Relation {
  readonly tag: 'relation';
  readonly relationOid: number;
  readonly schema: string;
  readonly name: string;
  readonly replicaIdentity: ReplicaIdentity;
  readonly columns: readonly RelationColumn[];
}

export interface Begin {
  readonly tag: 'begin';
  readonly commitLsn: Lsn;
  /** Microseconds since the Unix epoch. */
  readonly commitTime: bigint;
  readonly xid: number;
}
export interface Commit {
  readonly tag: 'commit';
  readonly commitLsn: Lsn;
  readonly endLsn: Lsn;
  readonly commitTime: bigint;
}
export interface Insert {
  readonly tag: 'insert';
  readonly relation: Relation;
  readonly new: Tuple;
}
export interface Update {
  readonly tag: 'update';
  readonly relation: Relation;
  /** The old replica-identity columns, sent only when they changed (default/index identity). */
  readonly key: Tuple | null;
  /** The whole old row (identity FULL). */
  readonly old: Tuple | null;
  readonly new: Tuple;
}
export interface Delete {
  readonly tag: 'delete';
  readonly relation: Relation;
  readonly key: Tuple | null;
  readonly old: Tuple | null;
}
export interface Truncate {
  readonly tag: 'truncate';
  readonly relations: readonly Relation[];
  readonly cascade: boolean;
  readonly restartIdentity: boolean;
}
export interface LogicalMessage {
  readonly tag: 'message';
  readonly transactional: boolean;
  readonly lsn: Lsn;
  readonly prefix: string;
  readonly content: Buffer;
}
export interface Origin {
  readonly tag: 'origin';
}
export interface TypeMessage {
  readonly tag: 'type';
}

export type PgoutputMessage = Begin | Commit | Relation | Insert | Update | Delete | Truncate | LogicalMessage | Origin | TypeMessage;

export type RowChange = Insert | Update | Delete;

/** Microseconds between 1970-01-01 and Postgres's epoch 2000-01-01. */
const POSTGRES_EPOCH_US = 946_684_800_000_000n;

class Reader {
  private offset = 0;
  constructor(private readonly buf: Buffer) {}

  byte(): number {
    return this.buf.readUInt8(this.offset++);
  }
  int16(): number {
    const value = this.buf.readInt16BE(this.offset);
    this.offset += 2;
    return value;
  }
  int32(): number {
    const value = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return value;
  }
  uint32(): number {
    const value = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }
  uint64(): bigint {
    const value = this.buf.readBigUInt64BE(this.offset);
    this.offset += 8;
    return value;
  }
  lsn(): Lsn {
    return lsnFromBigInt(this.uint64());
  }
  /** Postgres timestamps count microseconds from 2000-01-01; we return Unix microseconds. */
  timestamp(): bigint {
    const value = this.buf.readBigInt64BE(this.offset);
    this.offset += 8;
    return value + POSTGRES_EPOCH_US;
  }
  cstring(): string {
    const end = this.buf.indexOf(0, this.offset);
    if (end < 0) throw protocolError('unterminated string');
    const text = this.buf.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return text;
  }
  text(length: number): string {
    const text = this.buf.toString('utf8', this.offset, this.offset + length);
    this.offset += length;
    return text;
  }
  bytes(length: number): Buffer {
    const bytes = this.buf.subarray(this.offset, this.offset + length);
    this.offset += length;
    return bytes;
  }
}

function protocolError(message: string): WalcastError {
  return new WalcastError('REPLICATION_PROTOCOL', `pgoutput: ${message}`);
}

const IDENTITIES: Record<number, ReplicaIdentity> = {
  0x64 /* d */: 'default',
  0x6e /* n */: 'nothing',
  0x66 /* f */: 'full',
  0x69 /* i */: 'index',
};

/**
 * One decoder per replication connection: Relation messages are sent once per
 * connection before first use, and later row messages refer to them by OID.
 */
export class PgoutputDecoder {
  private readonly relations = new Map<number, Relation>();

  decode(buf: Buffer): PgoutputMessage {
    const reader = new Reader(buf);
    const tag = reader.byte();
    switch (tag) {
      case 0x42 /* B */:
        return { tag: 'begin', commitLsn: reader.lsn(), commitTime: reader.timestamp(), xid: reader.uint32() };
      case 0x43 /* C */:
        reader.byte(); // flags, unused
        return { tag: 'commit', commitLsn: reader.lsn(), endLsn: reader.lsn(), commitTime: reader.timestamp() };
      case 0x52 /* R */:
        return this.decodeRelation(reader);
      case 0x49 /* I */:
        return this.decodeInsert(reader);
      case 0x55 /* U */:
        return this.decodeUpdate(reader);
      case 0x44 /* D */:
        return this.decodeDelete(reader);
      case 0x54 /* T */:
        return this.decodeTruncate(reader);
      case 0x4d /* M */:
        return this.decodeMessage(reader);
      case 0x4f /* O */:
        return { tag: 'origin' };
      case 0x59 /* Y */:
        return { tag: 'type' };
      default:
        throw protocolError(`unknown message type 0x${tag.toString(16)}`);
    }
  }

  private decodeRelation(reader: Reader): Relation {
    const relationOid = reader.uint32();
    const schema = reader.cstring() || 'pg_catalog';
    const name = reader.cstring();
    const identityByte = reader.byte();
    const replicaIdentity = IDENTITIES[identityByte];
    if (!replicaIdentity) throw protocolError(`unknown replica identity 0x${identityByte.toString(16)}`);
    const columnCount = reader.int16();
    const columns: RelationColumn[] = [];
    for (let i = 0; i < columnCount; i++) {
      const flags = reader.byte();
      columns.push({ isIdentity: (flags & 1) === 1, name: reader.cstring(), typeOid: reader.uint32(), typeMod: reader.int32() });
    }
    const relation: Relation = { tag: 'relation', relationOid, schema, name, replicaIdentity, columns };
    this.relations.set(relationOid, relation);
    return relation;
  }

  private relation(oid: number): Relation {
    const relation = this.relations.get(oid);
    if (!relation) throw protocolError(`row message for relation ${oid} before its Relation message`);
    return relation;
  }

  private decodeInsert(reader: Reader): Insert {
    const relation = this.relation(reader.uint32());
    expectByte(reader, 0x4e /* N */);
    return { tag: 'insert', relation, new: readTuple(reader) };
  }

  private decodeUpdate(reader: Reader): Update {
    const relation = this.relation(reader.uint32());
    let key: Tuple | null = null;
    let old: Tuple | null = null;
    let part = reader.byte();
    if (part === 0x4b /* K */) {
      key = readTuple(reader);
      part = reader.byte();
    } else if (part === 0x4f /* O */) {
      old = readTuple(reader);
      part = reader.byte();
    }
    if (part !== 0x4e /* N */) throw protocolError(`update without new tuple (0x${part.toString(16)})`);
    return { tag: 'update', relation, key, old, new: readTuple(reader) };
  }

  private decodeDelete(reader: Reader): Delete {
    const relation = this.relation(reader.uint32());
    const part = reader.byte();
    if (part === 0x4b /* K */) return { tag: 'delete', relation, key: readTuple(reader), old: null };
    if (part === 0x4f /* O */) return { tag: 'delete', relation, key: null, old: readTuple(reader) };
    throw protocolError(`delete without key or old tuple (0x${part.toString(16)})`);
  }

  private decodeTruncate(reader: Reader): Truncate {
    const count = reader.uint32();
    const options = reader.byte();
    const relations: Relation[] = [];
    for (let i = 0; i < count; i++) relations.push(this.relation(reader.uint32()));
    return { tag: 'truncate', relations, cascade: (options & 1) !== 0, restartIdentity: (options & 2) !== 0 };
  }

  private decodeMessage(reader: Reader): LogicalMessage {
    const flags = reader.byte();
    const lsn = reader.lsn();
    const prefix = reader.cstring();
    const content = Buffer.from(reader.bytes(reader.uint32()));
    return { tag: 'message', transactional: (flags & 1) === 1, lsn, prefix, content };
  }
}

function expectByte(reader: Reader, expected: number): void {
  const actual = reader.byte();
  if (actual !== expected) {
    throw protocolError(`expected 0x${expected.toString(16)}, got 0x${actual.toString(16)}`);
  }
}

function readTuple(reader: Reader): Tuple {
  const count = reader.int16();
  const values: TupleValue[] = new Array<TupleValue>(count);
  for (let i = 0; i < count; i++) {
    const kind = reader.byte();
    switch (kind) {
      case 0x6e /* n */:
        values[i] = null;
        break;
      case 0x75 /* u */:
        values[i] = UNCHANGED_TOAST;
        break;
      case 0x74 /* t */:
        values[i] = reader.text(reader.uint32());
        break;
      default:
        // 'b' (binary) only appears when the subscriber asks for binary mode, which we never do.
        throw protocolError(`unsupported tuple value kind 0x${kind.toString(16)}`);
    }
  }
  return values;
}
