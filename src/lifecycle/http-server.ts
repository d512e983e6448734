// Serves a walcast handler on a server of its own (the CLI, the tests). Plain HTTP/1.1:
// a connection whose first request is a stream is served below node:http on the bare
// socket (http/raw-streams: a stream then costs its socket and its own state), every
// other one by node:http. With a certificate: HTTPS with HTTP/2 and HTTP/1.1 for clients
// without it (one connection carries every stream and request of a page: DESIGN §11).
// What Node's HTTP parser refuses is answered in JSON too; closing ends every connection.
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createSecureServer, type Http2SecureServer, type ServerHttp2Session } from 'node:http2';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import type { WalcastHandler } from '../http/app.js';
import { clientErrorResponse } from '../http/error-handler.js';
import { rawStreams, type RawStreamsOptions } from '../http/raw-streams.js';
import { WalcastError } from '../errors.js';

export interface TlsFiles {
  /** PEM files: the certificate (chain) and its private key. */
  readonly cert: string;
  readonly key: string;
}

export interface HttpServer {
  readonly server: Server | Http2SecureServer;
  readonly port: number;
  readonly url: string;
  /** Ends every open connection at once. */
  dropConnections(): void;
  /**
   * Stops accepting; requests under way have `graceMs` to finish, then every connection
   * still open is dropped. Resolves when none is left.
   */
  close(graceMs?: number): Promise<void>;
}

export interface ListenOptions {
  readonly handler: WalcastHandler;
  readonly port: number;
  readonly host: string | undefined;
  readonly tls?: TlsFiles | undefined;
  /** Streams served below node:http (plain HTTP only). */
  readonly streams?: RawStreamsOptions;
}

async function readTls(files: TlsFiles): Promise<{ cert: Buffer; key: Buffer }> {
  try {
    return { cert: await readFile(files.cert), key: await readFile(files.key) };
  } catch (error) {
    throw new WalcastError('INVALID_CONFIG', `invalid configuration: WALCAST_TLS_CERT / WALCAST_TLS_KEY cannot be read (${(error as Error).message})`);
  }
}

export async function listen(options: ListenOptions): Promise<HttpServer> {
  const { handler, port, host, tls } = options;
  const http = tls ? createSecureServer({ ...(await readTls(tls)), allowHTTP1: true }, handler as never) : createHttpServer(handler);
  http.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    if (socket.writable) socket.end(clientErrorResponse(error.code));
    else socket.destroy();
  });
  // HTTP/2 sessions outlive their requests: closing one lets its streams finish (GOAWAY).
  const sessions = new Set<ServerHttp2Session>();
  http.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  // Every connection, so that closing can end them (node:http does not know raw streams).
  const sockets = new Set<Socket>();
  // One listener for all ('close' comes once): no closure, no once-wrapper per connection.
  function untrack(this: Socket): void {
    sockets.delete(this);
  }
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', untrack);
  };
  let listener: Server | Http2SecureServer | ReturnType<typeof createNetServer>;
  if (!tls && options.streams) {
    const accept = rawStreams(options.streams);
    const toHttp = (socket: Socket) => http.emit('connection', socket);
    listener = createNetServer((socket) => {
      track(socket);
      accept(socket, toHttp);
    });
  } else {
    http.on(tls ? 'secureConnection' : 'connection', track);
    listener = http;
  }
  listener.listen(port, host);
  await once(listener, 'listening');
  const bound = (listener.address() as AddressInfo).port;
  const dropConnections = () => {
    for (const socket of sockets) socket.destroy();
  };
  return {
    server: http,
    port: bound,
    url: `${tls ? 'https' : 'http'}://${host && host !== '0.0.0.0' ? host : 'localhost'}:${bound}`,
    dropConnections,
    async close(graceMs = 0) {
      listener.close();
      for (const session of sessions) session.close();
      const deadline = Date.now() + graceMs;
      while (sockets.size > 0 && Date.now() < deadline) {
        // A keep-alive connection between requests holds nothing: let it go at once.
        if ('closeIdleConnections' in http) http.closeIdleConnections();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      dropConnections();
    },
  };
}
