// GET /v1/stream below node:http (issue 20, density). A connection whose first request is
// a plain GET of the stream path is answered from the bare socket: its head is read once
// (bounded in size and time), and once the stream is open only the socket and the
// stream's own state stay alive — no IncomingMessage, ServerResponse or parser, which
// node:http keeps for a response's whole life (~7.7 KiB a stream, bench density). Any other
// connection is handed to node:http with the bytes read so far given back, untouched.
import type { Socket } from 'node:net';
import { isWalcastError, WalcastError } from '../errors.js';
import { requestIdOf } from './request-id.js';
import type { Logger } from '../log.js';
import { HEADER } from '../wire/names.js';
import type { ClientGone, RequestHead, Sink, StreamExchange } from './exchange.js';
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
      bytes = EMPTY;
      serve(socket, read.head, options);
    };
    socket.on('data', onData);
    socket.on('error', destroySocket);
  };
}

const EMPTY = Buffer.alloc(0);

/** An error handler that keeps nothing alive but the socket it is called on. */
function destroySocket(this: Socket): void {
  this.destroy();
}

/**
 * Answers one stream's request from its socket. Nothing here holds the request head once
 * the handler is done with it: a stream lives for hours, its head (a token in the URL
 * included) should not (bench density).
 */
function serve(socket: Socket, head: RequestHead, options: RawStreamsOptions): void {
  // What arrives after the head is nobody's: read and dropped, so a close is seen.
  socket.resume();
  const requestId = flat(requestIdOf(head.headers));
  const edge = { ...options.edgeHeaders(head), [HEADER.requestId]: requestId };
  const answer = logWhenClosed(socket, options, requestId);
  const exchange: StreamExchange = {
    request: head,
    get gone() {
      return socket.destroyed;
    },
    open(headers) {
      answer.status = 200;
      socket.setNoDelay(true);
      socket.write(`HTTP/1.1 200 OK\r\n${headerLines({ ...edge, ...headers, connection: 'close' })}\r\n`);
      return new SocketSink(socket);
    },
    onClose: (stream) => {
      answer.stream = stream;
    },
  };
  options.handle(exchange).catch((error: unknown) => {
    if (answer.status !== 0) return void socket.destroy();
    const known = isWalcastError(error) ? error : new WalcastError('INTERNAL', 'internal error');
    if (!isWalcastError(error) || known.status >= 500) options.log.error({ err: error }, 'request failed');
    answer.status = known.status;
    const body = errorBody(known);
    const fields = {
      ...edge,
      ...known.headers,
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
      connection: 'close',
    };
    socket.end(`HTTP/1.1 ${known.status} ${REASONS[known.status] ?? 'Error'}\r\n${headerLines(fields)}\r\n${body}`);
  });
}

/**
 * What a stream's connection needs when it ends, found from its socket: one object a
 * stream, no closure and context of its own (bench density).
 */
class Answer {
  status = 0;
  /** The stream this connection serves, told when it ends. */
  stream: ClientGone | undefined = undefined;
  readonly started = performance.now();

  constructor(
    readonly options: RawStreamsOptions,
    readonly requestId: string,
  ) {}
}

const ANSWER = Symbol('walcast.answer');
type AnsweredSocket = Socket & { [ANSWER]?: Answer };

/** The request's log line and count, when its connection ends; `status` is set on the way. */
function logWhenClosed(socket: Socket, options: RawStreamsOptions, requestId: string): Answer {
  const answer = new Answer(options, requestId);
  (socket as AnsweredSocket)[ANSWER] = answer;
  // 'close' comes once: `on` spares the wrapper `once` keeps per listener.
  socket.on('close', answerClosed);
  return answer;
}

function answerClosed(this: AnsweredSocket): void {
  const { stream, options, requestId, status, started } = this[ANSWER]!;
  stream?.clientGone();
  options.metrics.httpRequests.inc({ route: options.path, method: 'GET', status: String(status) });
  options.log.info({ requestId, method: 'GET', route: options.path, path: options.path, status, ms: Math.round(performance.now() - started) }, 'request');
}

/**
 * A copy of the text in one piece: a UUID is built of fourteen concatenated pieces, and a
 * request's header value is a slice of its whole head (its token too); either would be
 * kept for as long as the stream lives, in its log line.
 */
function flat(text: string): string {
  return Buffer.from(text, 'latin1').toString('latin1');
}

function headerLines(headers: Readonly<Record<string, string>>): string {
  let lines = '';
  for (const [name, value] of Object.entries(headers)) lines += `${name}: ${value}\r\n`;
  return lines;
}

/** A stream's bytes straight to its socket: a class, so a stream costs no closures for it. */
class SocketSink implements Sink {
  constructor(private readonly socket: Socket) {}

  write(chunk: Buffer | string): void {
    this.socket.write(chunk);
  }

  get full(): boolean {
    return this.socket.writableNeedDrain;
  }

  onDrain(listener: () => void): void {
    this.socket.once('drain', listener);
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }
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
