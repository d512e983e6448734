// createApp(deps): the express application. Every dependency comes in as an argument.
import { randomUUID } from 'node:crypto';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Logger } from '../log.js';
import { cors } from './cors.js';
import { errorHandler, notFound } from './error-handler.js';
import { HEADER } from './constants.js';
import type { Metrics } from './metrics.js';

export interface Readiness {
  readonly ready: boolean;
  readonly detail: Record<string, unknown>;
}

export interface AppDeps {
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly readiness: () => Readiness;
  readonly routers: readonly express.Router[];
  /** Origins allowed to call from a browser (`*`: any). */
  readonly corsOrigins: readonly string[];
}

const REQUEST_ID = /^[A-Za-z0-9_.-]{1,64}$/;

/** Logs method, route and status, never the URL's query string (it may hold access_token). */
function requestLog(log: Logger, metrics: Metrics) {
  return function requestLog(request: Request, response: Response, next: NextFunction): void {
    const incoming = request.headers[HEADER.requestId];
    const requestId = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    response.setHeader(HEADER.requestId, requestId);
    const started = performance.now();
    response.on('finish', () => {
      const route = (request.route as { path?: string } | undefined)?.path ?? 'unmatched';
      metrics.httpRequests.inc({ route, method: request.method, status: String(response.statusCode) });
      log.info(
        { requestId, method: request.method, route, path: request.path, status: response.statusCode, ms: Math.round(performance.now() - started) },
        'request',
      );
    });
    next();
  };
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(requestLog(deps.log, deps.metrics));
  app.use(cors(deps.corsOrigins));

  app.get('/healthz', function healthz(_request, response) {
    response.json({ status: 'ok' });
  });
  app.get('/readyz', function readyz(_request, response) {
    const { ready, detail } = deps.readiness();
    response.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', ...detail });
  });
  app.get('/metrics', async function metrics(_request, response) {
    response.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  for (const router of deps.routers) app.use(router);

  app.use(notFound);
  app.use(errorHandler(deps.log));
  return app;
}
