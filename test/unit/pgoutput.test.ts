// Byte layouts from https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html
import { describe, expect, it } from 'vitest';
import { PgoutputDecoder, UNCHANGED_TOAST } from '../../src/replication/pgoutput.js';

const cstring = (text: string) => Buffer.concat([Buffer.from(text, 'utf8'), Buffer.from([0])]);
const int8 = (value: number) => Buffer.from([value]);
const int16 = (value: number) => { const b = Buffer.alloc(2); b.writeInt16BE(value); return b; };
const int32 = (value: number) => { const b = Buffer.alloc(4); b.writeInt32BE(value); return b; };
const int64 = (value: bigint) => { const b = Buffer.alloc(8); b.writeBigInt64BE(value); return b; };
const tag = (letter: string) => Buffer.from(letter, 'ascii');
const text = (value: string) => Buffer.concat([tag('t'), int32(Buffer.byteLength(value)), Buffer.from(value)]);

const relation = Buffer.concat([
  tag('R'), int32(16384), cstring('public'), cstring('todos'), tag('f'), int16(3),
  int8(1), cstring('id'), int32(20), int32(-1),
  int8(0), cstring('title'), int32(25), int32(-1),
  int8(0), cstring('body'), int32(25), int32(-1),
]);

describe('pgoutput decoding', () => {
  it('decodes Begin with LSN, Unix-epoch microseconds and xid', () => {
    const decoder = new PgoutputDecoder();
    const message = decoder.decode(Buffer.concat([tag('B'), int64(0x16b3748n), int64(1_000_000n), int32(1234)]));
    expect(message).toEqual({ tag: 'begin', commitLsn: 0x16b3748n, commitTime: 946_684_801_000_000n, xid: 1234 });
  });

  it('decodes Commit', () => {
    const message = new PgoutputDecoder().decode(Buffer.concat([tag('C'), int8(0), int64(10n), int64(20n), int64(0n)]));
    expect(message).toMatchObject({ tag: 'commit', commitLsn: 10n, endLsn: 20n });
  });

  it('keeps text values as text and tells NULL from an unchanged TOAST value', () => {
    const decoder = new PgoutputDecoder();
    expect(decoder.decode(relation)).toMatchObject({ schema: 'public', name: 'todos', replicaIdentity: 'full' });
    const update = decoder.decode(Buffer.concat([
      tag('U'), int32(16384),
      tag('O'), int16(3), text('1'), text('old title'), text('x'.repeat(10)),
      tag('N'), int16(3), text('1'), tag('n'), tag('u'),
    ]));
    expect(update).toMatchObject({ tag: 'update', key: null, old: ['1', 'old title', 'x'.repeat(10)], new: ['1', null, UNCHANGED_TOAST] });
  });

  it('decodes multi-byte UTF-8 values', () => {
    const decoder = new PgoutputDecoder();
    decoder.decode(relation);
    const insert = decoder.decode(Buffer.concat([tag('I'), int32(16384), tag('N'), int16(3), text('1'), text('héllo ✓ 🎉'), tag('n')]));
    expect(insert).toMatchObject({ tag: 'insert', new: ['1', 'héllo ✓ 🎉', null] });
  });

  it('decodes transactional logical messages', () => {
    const content = Buffer.from('{"op":"x"}');
    const message = new PgoutputDecoder().decode(Buffer.concat([tag('M'), int8(1), int64(99n), cstring('walcast.config'), int32(content.length), content]));
    expect(message).toMatchObject({ tag: 'message', transactional: true, lsn: 99n, prefix: 'walcast.config' });
    expect((message as { content: Buffer }).content.toString()).toBe('{"op":"x"}');
  });

  it('rejects a row for an unknown relation and unknown message types with a typed error', () => {
    const decoder = new PgoutputDecoder();
    expect(() => decoder.decode(Buffer.concat([tag('I'), int32(1), tag('N'), int16(0)]))).toThrow(/before its Relation/);
    expect(() => decoder.decode(tag('Z'))).toThrow(/unknown message type/);
  });
});
