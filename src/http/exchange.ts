// The requests and responses walcast serves: HTTP/1.1 (node:http) and HTTP/2 (node:http2's
// compatibility API, with TLS). Code that needs only what both have takes these.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';

export type HttpRequest = IncomingMessage | Http2ServerRequest;
export type HttpResponse = ServerResponse | Http2ServerResponse;
