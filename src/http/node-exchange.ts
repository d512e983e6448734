// A stream's exchange on node:http's request and response (HTTP/1.1, and HTTP/2's
// compatibility API): what a stream mounted in an app of one's own, or served with TLS, uses.
import type { HttpRequest, HttpResponse, Sink, StreamExchange } from './exchange.js';

export function nodeExchange(request: HttpRequest, response: HttpResponse): StreamExchange {
  return {
    request,
    get gone() {
      return request.socket.destroyed;
    },
    open(headers) {
      if ('stream' in response) {
        // HTTP/2 frames each write itself and forbids connection-specific headers.
        response.writeHead(200, headers);
        return http2Sink(response);
      }
      // No chunked framing: the stream ends only when the connection does, so each event
      // is written to the socket as is (chunk headers per event per stream were a third of
      // the fan-out's cost under load: bench keepup).
      response.useChunkedEncodingByDefault = false;
      response.writeHead(200, { ...headers, connection: 'close' });
      response.socket?.setNoDelay(true);
      return {
        write: (chunk) => void response.write(chunk),
        get full() {
          return response.writableNeedDrain;
        },
        onDrain: (listener) => void response.once('drain', listener),
        end: () => void response.end(),
        destroy: () => void response.destroy(),
      };
    },
    onClose(stream) {
      const gone = () => stream.clientGone();
      response.once('close', gone);
      // A request pipelined behind another on one connection has no socket of its own
      // yet, and its response emits no 'close' when the client goes: the connection does.
      if (!('stream' in response)) request.socket.once('close', gone);
    },
  };
}

function http2Sink(response: Extract<HttpResponse, { stream: unknown }>): Sink {
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
