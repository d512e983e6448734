// The one place errors become HTTP responses: `{ "error": "<code>", "message": "…" }`.
import type { NextFunction, Request, Response } from 'express';
import { WalcastError, isWalcastError } from '../errors.js';
import type { Logger } from '../log.js';

interface BodyParserError {
  readonly type?: string;
  readonly status?: number;
}

/** Errors raised by express's body parser carry a `type`; map them to our codes. */
function fromBodyParser(error: BodyParserError): WalcastError | undefined {
  switch (error.type) {
    case 'entity.parse.failed':
      return new WalcastError('MALFORMED_JSON', 'the request body is not valid JSON');
    case 'entity.too.large':
      return new WalcastError('PAYLOAD_TOO_LARGE', 'the request body is too large');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new WalcastError('BAD_REQUEST', 'unsupported body encoding');
    default:
      return undefined;
  }
}

export function sendError(response: Response, error: WalcastError): void {
  for (const [name, value] of Object.entries(error.headers)) response.setHeader(name, value);
  response.status(error.status).json({ error: error.wireCode, message: error.message, ...error.details });
}

export function errorHandler(log: Logger) {
  return function errorHandler(error: unknown, _request: Request, response: Response, _next: NextFunction): void {
    const known = isWalcastError(error) ? error : fromBodyParser(error as BodyParserError);
    const rendered = known ?? new WalcastError('INTERNAL', 'internal error');
    if (!known || rendered.status >= 500) log.error({ err: error }, 'request failed');
    if (response.headersSent) {
      response.destroy();
      return;
    }
    sendError(response, rendered);
  };
}

export function notFound(_request: Request, response: Response): void {
  sendError(response, new WalcastError('NOT_FOUND', 'no such endpoint'));
}
