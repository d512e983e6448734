// Where a stream's bytes go: an HTTP/1.1 response or an HTTP/2 stream, seen the same way,
// so a subscriber knows nothing of the protocol (or of node:http: tests and other servers
// give it a sink of their own).
import type { HttpResponse } from '../http/exchange.js';

export interface Sink {
  write(chunk: Buffer | string): void;
  /** The socket's buffer is full: wait for `onDrain` before writing more. */
  readonly full: boolean;
  onDrain(listener: () => void): void;
  /** Ends the stream after what was written. */
  end(): void;
  /** Drops the connection now (a slow or faulty stream). */
  destroy(): void;
}

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
} as const;

/** Answers 200 with the SSE headers and gives the stream's sink. */
export function openSseSink(response: HttpResponse): Sink {
  if ('stream' in response) {
    // HTTP/2 frames each write itself and forbids connection-specific headers.
    response.writeHead(200, SSE_HEADERS);
    return responseSink(response);
  }
  // No chunked framing: the stream ends only when the connection does, so each event is
  // written to the socket as is (chunk headers per event per stream were a third of the
  // fan-out's cost under load: bench keepup).
  response.useChunkedEncodingByDefault = false;
  response.writeHead(200, { ...SSE_HEADERS, connection: 'close' });
  response.socket?.setNoDelay(true);
  return responseSink(response);
}

function responseSink(response: HttpResponse): Sink {
  if ('stream' in response) {
    // The HTTP/2 compatibility response has no writableNeedDrain; its stream does.
    const { stream } = response;
    return {
      write: (chunk) => void response.write(chunk),
      get full() {
        return stream.writableNeedDrain;
      },
      onDrain: (listener) => void stream.once('drain', listener),
      end: () => void response.end(),
      destroy: () => void stream.destroy(),
    };
  }
  return {
    write: (chunk) => void response.write(chunk),
    get full() {
      return response.writableNeedDrain;
    },
    onDrain: (listener) => void response.once('drain', listener),
    end: () => void response.end(),
    destroy: () => void response.destroy(),
  };
}
