import { describe, expect, it } from 'vitest';
import { formatSse, formatSseComment, formatSseRetry } from '../../src/streams/sse.js';

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

  it('keeps comments and retry hints on one line', () => {
    expect(formatSseComment('keep\nalive')).toBe(': keep alive\n\n');
    expect(formatSseRetry(2000)).toBe('retry: 2000\n\n');
  });
});
