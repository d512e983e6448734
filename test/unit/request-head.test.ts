// Streams served below node:http read their request head themselves: strictly, bounded.
import { describe, expect, it } from 'vitest';
import { MAX_HEAD_BYTES, readRequestHead } from '../../src/http/request-head.js';

const read = (text: string) => readRequestHead(Buffer.from(text, 'latin1'));

describe('reading a request head', () => {
  it('reads the request line and headers, lower-cased, duplicates as node:http keeps them', () => {
    const result = read(
      'GET /v1/stream?tables=a HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer one\r\nauthorization: Bearer two\r\nX-Tag: a\r\nx-tag: b\r\n\r\nrest',
    );
    expect(result).toEqual({
      kind: 'head',
      length: 'GET /v1/stream?tables=a HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer one\r\nauthorization: Bearer two\r\nX-Tag: a\r\nx-tag: b\r\n\r\n'.length,
      head: { method: 'GET', url: '/v1/stream?tables=a', headers: { host: 'x', authorization: 'Bearer one', 'x-tag': 'a, b' } },
    });
  });

  it('waits for the rest of a head, and refuses one too large or malformed', () => {
    expect(read('GET /v1/stream HTTP/1.1\r\nHost: x\r\n')).toEqual({ kind: 'partial' });
    expect(read(`GET /v1/stream HTTP/1.1\r\nx: ${'a'.repeat(MAX_HEAD_BYTES)}`)).toEqual({ kind: 'too-large' });
    for (const bad of [
      'GET /v1/stream HTTP/2.0\r\n\r\n',
      'GET  /v1/stream HTTP/1.1\r\n\r\n',
      'GET /v1/stream HTTP/1.1\r\nno colon\r\n\r\n',
      'GET /v1/stream HTTP/1.1\r\nbad name: x\r\n\r\n',
      'GET /v1/stream HTTP/1.1\r\nx: a\u0000b\r\n\r\n',
      `GET /v1/stream HTTP/1.1\r\n${'x: 1\r\n'.repeat(101)}\r\n`,
    ]) {
      expect(read(bad), JSON.stringify(bad)).toEqual({ kind: 'malformed' });
    }
  });
});
