// The request ID of a log line and the `x-request-id` header: the caller's when it is a
// plain token (a proxy's), else a new one.
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { HEADER } from '../wire/names.js';

const REQUEST_ID = /^[A-Za-z0-9_.-]{1,64}$/;

export function requestIdOf(headers: IncomingHttpHeaders): string {
  const incoming = headers[HEADER.requestId];
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}
