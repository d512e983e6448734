// Serves a walcast handler on a node:http server of its own (the CLI, the tests): what
// Node's own HTTP parser refuses is answered in JSON too, and closing ends every stream.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WalcastHandler } from '../http/app.js';
import { clientErrorResponse } from '../http/error-handler.js';

export interface HttpServer {
  readonly server: Server;
  readonly port: number;
  readonly url: string;
  /** Stops accepting and drops every open connection (streams end; clients reconnect elsewhere). */
  close(): void;
}

export async function listen(handler: WalcastHandler, port: number, host: string | undefined): Promise<HttpServer> {
  const server = createServer(handler);
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (socket.writable) socket.end(clientErrorResponse(error.code));
    else socket.destroy();
  });
  server.listen(port, host);
  await once(server, 'listening');
  const bound = (server.address() as AddressInfo).port;
  return {
    server,
    port: bound,
    url: `http://${host && host !== '0.0.0.0' ? host : 'localhost'}:${bound}`,
    close() {
      server.close();
      server.closeAllConnections();
    },
  };
}
