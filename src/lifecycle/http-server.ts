// Serves a walcast handler on a server of its own (the CLI, the tests): plain HTTP/1.1,
// or, given a certificate, HTTPS with HTTP/2 and HTTP/1.1 for clients without it (one
// connection carries every stream and request of a page over HTTP/2: DESIGN §11). What
// Node's HTTP parser refuses is answered in JSON too; closing ends every connection.
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createSecureServer, type Http2SecureServer, type ServerHttp2Session } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import type { WalcastHandler } from '../http/app.js';
import { clientErrorResponse } from '../http/error-handler.js';
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
  /**
   * Stops accepting; requests under way have `graceMs` to finish, then every connection
   * still open is dropped. Resolves when none is left.
   */
  close(graceMs?: number): Promise<void>;
}

async function readTls(files: TlsFiles): Promise<{ cert: Buffer; key: Buffer }> {
  try {
    return { cert: await readFile(files.cert), key: await readFile(files.key) };
  } catch (error) {
    throw new WalcastError('INVALID_CONFIG', `invalid configuration: WALCAST_TLS_CERT / WALCAST_TLS_KEY cannot be read (${(error as Error).message})`);
  }
}

export async function listen(handler: WalcastHandler, port: number, host: string | undefined, tls?: TlsFiles): Promise<HttpServer> {
  const server = tls
    ? createSecureServer({ ...(await readTls(tls)), allowHTTP1: true }, handler as never)
    : createServer(handler);
  // Every connection, so that closing can end them (HTTP/2 servers cannot close them all).
  const sockets = new Set<Socket>();
  server.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // HTTP/2 sessions outlive their requests: closing one lets its streams finish (GOAWAY).
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    if (socket.writable) socket.end(clientErrorResponse(error.code));
    else socket.destroy();
  });
  server.listen(port, host);
  await once(server, 'listening');
  const bound = (server.address() as AddressInfo).port;
  return {
    server,
    port: bound,
    url: `${tls ? 'https' : 'http'}://${host && host !== '0.0.0.0' ? host : 'localhost'}:${bound}`,
    async close(graceMs = 0) {
      server.close();
      for (const session of sessions) session.close();
      const deadline = Date.now() + graceMs;
      while (sockets.size > 0 && Date.now() < deadline) {
        // A keep-alive connection between requests holds nothing: let it go at once.
        if ('closeIdleConnections' in server) server.closeIdleConnections();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      for (const socket of sockets) socket.destroy();
    },
  };
}
