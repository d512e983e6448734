import { describe, expect, it } from 'vitest';
import { formatSse, formatSseComment, formatSseRetry, sseBytes } from '../../src/streams/sse.js';

describe('SSE wire format', () => {
  it('writes id, event and data fields and ends with a blank line', () => {
    expect(formatSse({ id: '1', event: 'change', data: '{"a":1}' })).toBe('id: 1\nevent: change\ndata: {"a":1}\n\n');
  });

  it('splits multi-line data into several data lines', () => {
    expect(formatSse({ data: 'a\nb\r\nc' })).toBe('data: a\ndata: b\ndata: c\n\n');
  });

  it('refuses CR, LF or NUL in id and event (header injection)', () => {
    expect(() => formatSse({ id: '1\nevent: evil', data: '' })).toThrow();
    expect(() => formatSse({ event: 'x\r', data: '' })).toThrow();
    expect(() => formatSse({ id: 'a\0', data: '' })).toThrow();
  });

  it('encodes the same bytes straight, whatever the data holds', () => {
    for (const message of [
      { id: '0/16B3748-0', event: 'change', data: '{"row":{"title":"naïve — ✓ 𝄞"}}' },
      { event: 'presence', data: '{"a":"b"}' },
      { id: '1', data: '{"json":"line\none"}' },
      { data: 'a\r\nb\rc\n' },
      { data: '' },
      { id: '2', event: 'change', data: '{"t":"lone \ud800 surrogate, then \udfff"}' },
    ]) {
      expect(sseBytes(message).equals(Buffer.from(formatSse(message), 'utf8'))).toBe(true);
    }
    expect(() => sseBytes({ id: '1\nevent: evil', data: '{}' })).toThrow();
  });

  it('keeps comments and retry hints on one line', () => {
    expect(formatSseComment('keep\nalive')).toBe(': keep alive\n\n');
    expect(formatSseRetry(2000)).toBe('retry: 2000\n\n');
  });
});
