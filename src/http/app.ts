// createApp(deps): walcast's HTTP handler. Every dependency comes in as an argument.
// Streams are served by a plain node:http handler; everything else by express.
import type { HttpRequest, HttpResponse, StreamExchange } from './exchange.js';
import { nodeExchange } from './node-exchange.js';
import express, { type Request, type Response } from 'express';
import { requestIdOf } from './request-id.js';
import type { Logger } from '../log.js';
import { cors } from './cors.js';
import { errorHandler, notFound } from './error-handler.js';
import { HEADER } from '../wire/names.js';
import type { Metrics } from './metrics.js';
import { servingHttp2 } from './http2-express.js';
import { pathOf } from './validate.js';

export interface Readiness {
  readonly ready: boolean;
  readonly detail: Record<string, unknown>;
}

export interface AppDeps {
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly readiness: () => Readiness;
  readonly routers: readonly express.Router[];
  /** GET /v1/stream, served outside express (express keeps ~5 KiB per request alive for a stream's life). */
  readonly stream: (exchange: StreamExchange) => Promise<void>;
  /** Origins allowed to call from a browser (`*`: any). */
  readonly corsOrigins: readonly string[];
}

/** A request handler for node:http, or to mount in an express app (`app.use(prefix, handler)`). */
export type WalcastHandler = (request: HttpRequest, response: HttpResponse, next?: (error?: unknown) => void) => void;

export const STREAM_PATH = '/v1/stream';

/**
 * Logs method, route and status, never the URL's query string (it may hold access_token).
 * `route`: the route's label when express does not route the request.
 */
function requestLog(log: Logger, metrics: Metrics, route?: string) {
  return function requestLog(request: HttpRequest, response: HttpResponse, next: () => void): void {
    const requestId = requestIdOf(request.headers);
    response.setHeader(HEADER.requestId, requestId);
    const started = performance.now();
    response.on('finish', () => {
      const label = route ?? ((request as Request).route as { path?: string } | undefined)?.path ?? 'unmatched';
      const method = request.method ?? '';
      metrics.httpRequests.inc({ route: label, method, status: String(response.statusCode) });
      log.info({ requestId, method, route: label, path: pathOf(request), status: response.statusCode, ms: Math.round(performance.now() - started) }, 'request');
    });
    next();
  };
}

export function createApp(deps: AppDeps): WalcastHandler {
  const allowOrigin = cors(deps.corsOrigins);
  const onError = errorHandler(deps.log);
  const routes = express.Router();
  routes.use(requestLog(deps.log, deps.metrics));
  routes.use(allowOrigin);
  routes.get('/healthz', function healthz(_request, response) {
    response.json({ status: 'ok' });
  });
  routes.get('/readyz', function readyz(_request, response) {
    const { ready, detail } = deps.readiness();
    response.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', ...detail });
  });
  routes.get('/metrics', async function metrics(_request, response) {
    response.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  for (const router of deps.routers) routes.use(router);
  routes.use(notFound);
  routes.use(onError);

  // The same routes for HTTP/1.1 and for HTTP/2 (TLS), each app for its kind of request.
  const http1 = express();
  const http2 = servingHttp2(express());
  for (const app of [http1, http2]) {
    app.disable('x-powered-by');
    app.use(routes);
  }

  const logStream = requestLog(deps.log, deps.metrics, STREAM_PATH);
  return function walcast(request, response, next) {
    if (request.method !== 'GET' || pathOf(request) !== STREAM_PATH) {
      // express turns the request and response into its own (it sets their prototypes).
      const app = request.httpVersionMajor === 2 ? http2 : http1;
      return void app(request as Request, response as unknown as Response, next ?? (() => undefined));
    }
    logStream(request, response, () =>
      allowOrigin(request, response, () => {
        deps.stream(nodeExchange(request, response)).catch((error: unknown) => onError(error, request, response, () => undefined));
      }),
    );
  };
}
