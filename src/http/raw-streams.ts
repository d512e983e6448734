// GET /v1/stream below node:http (issue 20, density). A connection whose first request is
// a plain GET of the stream path is answered from the bare socket: its head is read once
// (bounded in size and time), and once the stream is open only the socket and the
// stream's own state stay alive — no IncomingMessage, ServerResponse or parser, which
// node:http keeps for a response's whole life (~7.7 KiB a stream, bench density). Any other
// connection is handed to node:http with the bytes read so far given back, untouched.
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { isWalcastError, WalcastError } from '../errors.js';
import type { Logger } from '../log.js';
import { HEADER } from '../wire/names.js';
import type { RequestHead, Sink, StreamExchange } from './exchange.js';
import { errorBody } from './error-handler.js';
import type { Metrics } from './metrics.js';
import { readRequestHead } from './request-head.js';
import { pathOf } from './validate.js';

/** A client that has not sent its whole head by then is dropped (slowloris). */
const HEAD_TIMEOUT_MS = 10_000;

export interface RawStreamsOptions {
  readonly path: string;
  readonly handle: (exchange: StreamExchange) => Promise<void>;
  /** The headers the edge adds to a stream's answer or error (CORS): as for any route. */
  readonly edgeHeaders: (head: RequestHead) => Record<string, string>;
  readonly log: Logger;
  readonly metrics: Metrics;
}

const REQUEST_ID = /^[A-Za-z0-9_.-]{1,64}$/;

/** Takes a new connection: a stream's, or node:http's (`fallback`). */
export function rawStreams(options: RawStreamsOptions): (socket: Socket, fallback: (socket: Socket) => void) => void {
  const prefix = Buffer.from(`GET ${options.path}`, 'latin1');

  /** Could these first bytes begin a GET of the stream path? */
  const mayBeStream = (bytes: Buffer) => {
    const length = Math.min(bytes.length, prefix.length);
    if (bytes.compare(prefix, 0, length, 0, length) !== 0) return false;
    // After the path: its end (a space) or its query.
    return bytes.length <= prefix.length || bytes[prefix.length] === 0x20 || bytes[prefix.length] === 0x3f;
  };

  return function acceptConnection(socket, fallback) {
    let bytes: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), HEAD_TIMEOUT_MS);
    const handOver = () => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.pause();
      if (bytes.length > 0) socket.unshift(bytes);
      fallback(socket);
      socket.resume();
    };
    const onData = (chunk: Buffer) => {
      bytes = bytes.length === 0 ? chunk : Buffer.concat([bytes, chunk]);
      if (!mayBeStream(bytes)) return handOver();
      const read = readRequestHead(bytes);
      if (read.kind === 'partial') return;
      // Too large or malformed: node:http answers those as it does for every route.
      if (read.kind !== 'head' || pathOf(read.head) !== options.path) return handOver();
      clearTimeout(timer);
      socket.off('data', onData);
      serve(socket, read.head);
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
  };

  function serve(socket: Socket, head: RequestHead): void {
    // What arrives after the head is nobody's: read and dropped, so a close is seen.
    socket.resume();
    const incoming = head.headers[HEADER.requestId];
    const requestId = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    const edge = { ...options.edgeHeaders(head), [HEADER.requestId]: requestId };
    const started = performance.now();
    let status = 0;
    socket.once('close', () => {
      options.metrics.httpRequests.inc({ route: options.path, method: 'GET', status: String(status) });
      options.log.info({ requestId, method: 'GET', route: options.path, path: options.path, status, ms: Math.round(performance.now() - started) }, 'request');
    });
    const exchange: StreamExchange = {
      request: head,
      get gone() {
        return socket.destroyed;
      },
      open(headers) {
        status = 200;
        socket.setNoDelay(true);
        socket.write(`HTTP/1.1 200 OK\r\n${headerLines({ ...edge, ...headers, connection: 'close' })}\r\n`);
        return socketSink(socket);
      },
      onClose: (listener) => void socket.once('close', listener),
    };
    options.handle(exchange).catch((error: unknown) => {
      if (status !== 0) return void socket.destroy();
      const known = isWalcastError(error) ? error : new WalcastError('INTERNAL', 'internal error');
      if (!isWalcastError(error) || known.status >= 500) options.log.error({ err: error }, 'request failed');
      status = known.status;
      const body = errorBody(known);
      const fields = { ...edge, ...known.headers, 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), connection: 'close' };
      socket.end(`HTTP/1.1 ${known.status} ${REASONS[known.status] ?? 'Error'}\r\n${headerLines(fields)}\r\n${body}`);
    });
  }
}

function headerLines(headers: Readonly<Record<string, string>>): string {
  let lines = '';
  for (const [name, value] of Object.entries(headers)) lines += `${name}: ${value}\r\n`;
  return lines;
}

function socketSink(socket: Socket): Sink {
  return {
    write: (chunk) => void socket.write(chunk),
    get full() {
      return socket.writableNeedDrain;
    },
    onDrain: (listener) => void socket.once('drain', listener),
    end: () => void socket.end(),
    destroy: () => void socket.destroy(),
  };
}

const REASONS: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};
