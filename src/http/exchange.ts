// The requests and responses walcast serves: HTTP/1.1 (node:http), HTTP/2 (node:http2's
// compatibility API, with TLS), and streams served below node:http on the bare socket
// (http/raw-streams). Code that needs only what they share takes these.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';

export type HttpRequest = IncomingMessage | Http2ServerRequest;
export type HttpResponse = ServerResponse | Http2ServerResponse;

/** What a request says before its body: all a stream's handler reads. */
export interface RequestHead {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly headers: IncomingHttpHeaders;
}

/** Where a long-lived response's bytes go, whichever protocol carries them. */
export interface Sink {
  write(chunk: Buffer | string): void;
  /** The socket's buffer is full: wait for `onDrain` before writing more. */
  readonly full: boolean;
  onDrain(listener: () => void): void;
  /** Ends the response after what was written. */
  end(): void;
  /** Drops the connection now (a slow or faulty stream). */
  destroy(): void;
}

/**
 * One request for a stream, whichever server took it. An error the handler throws before
 * `open` is answered by the server that took it, in the same JSON.
 */
export interface StreamExchange {
  readonly request: RequestHead;
  /** The client went away already. */
  readonly gone: boolean;
  /** Answers 200 with these headers (and any the edge added: CORS, request id) and gives the body's sink. */
  open(headers: Readonly<Record<string, string>>): Sink;
  /** Tells `stream` once when the connection ends, whoever ends it. */
  onClose(stream: ClientGone): void;
}

/** What a connection tells its stream when it ends (a Subscriber: no closure a stream). */
export interface ClientGone {
  clientGone(): void;
}
