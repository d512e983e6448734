// An HTTP/1.x request head read from bytes (RFC 9112 §2–§5), for streams served below
// node:http. Pure and strict: anything malformed is refused, never guessed at.
import type { IncomingHttpHeaders } from 'node:http';
import type { RequestHead } from './exchange.js';

/** node:http's default: a head larger than this is 431. */
export const MAX_HEAD_BYTES = 16 * 1024;
const MAX_HEADERS = 100;

const REQUEST_LINE = /^([A-Z]+) (\S+) HTTP\/1\.[01]$/;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Control characters other than tab are never part of a field value. */
const BAD_VALUE = /[^\t\P{Cc}]/u;

/**
 * As node:http: duplicates of these are dropped (the first wins); others are joined by
 * ", " (`set-cookie` is a response header: not here).
 */
const SINGLE = new Set([
  'age',
  'authorization',
  'content-length',
  'content-type',
  'etag',
  'expires',
  'from',
  'host',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
]);

export type HeadRead =
  | { readonly kind: 'head'; readonly head: RequestHead; readonly length: number }
  | { readonly kind: 'partial' }
  | { readonly kind: 'too-large' }
  | { readonly kind: 'malformed' };

/** The head at the start of `bytes`, if it is all there. */
export function readRequestHead(bytes: Buffer): HeadRead {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) return bytes.length > MAX_HEAD_BYTES ? { kind: 'too-large' } : { kind: 'partial' };
  if (end + 4 > MAX_HEAD_BYTES) return { kind: 'too-large' };
  const lines = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const line = REQUEST_LINE.exec(lines[0]!);
  if (!line || lines.length - 1 > MAX_HEADERS) return { kind: 'malformed' };
  const headers: IncomingHttpHeaders = {};
  for (const field of lines.slice(1)) {
    const colon = field.indexOf(':');
    if (colon <= 0) return { kind: 'malformed' };
    const name = field.slice(0, colon).toLowerCase();
    const value = field.slice(colon + 1).trim();
    if (!TOKEN.test(name) || BAD_VALUE.test(value)) return { kind: 'malformed' };
    const seen = headers[name];
    if (seen === undefined) headers[name] = value;
    else if (!SINGLE.has(name)) headers[name] = `${String(seen)}, ${value}`;
  }
  return { kind: 'head', head: { method: line[1], url: line[2], headers }, length: end + 4 };
}
