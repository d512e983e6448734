// The one place errors become HTTP responses: `{ "error": "<code>", "message": "…" }`.
import type { HttpRequest, HttpResponse } from './exchange.js';
import type { Request, Response } from 'express';
import { WalcastError, isWalcastError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ErrorBody } from '../wire/payloads.js';

interface HttpLayerError {
  readonly type?: string;
  readonly status?: number;
}

/**
 * Errors from express itself (a path that is not valid percent-encoding) and its body
 * parser carry a `status` or a `type`; map them to our codes.
 */
function fromHttpLayer(error: HttpLayerError): WalcastError | undefined {
  if (error instanceof URIError || (error.status === 400 && error.type === undefined)) {
    return new WalcastError('BAD_REQUEST', 'the URL is not valid percent-encoding');
  }
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

/** DESIGN §4's error body: `{ "error": "<code>", "message": "…" }` and the error's details. */
export function errorBody(error: WalcastError): string {
  return JSON.stringify({ error: error.wireCode, message: error.message, ...error.details } satisfies ErrorBody);
}

export function sendError(response: HttpResponse, error: WalcastError): void {
  const body = errorBody(error);
  for (const [name, value] of Object.entries(error.headers)) response.setHeader(name, value);
  response.statusCode = error.status;
  response.setHeader('content-type', 'application/json; charset=utf-8');
  response.setHeader('content-length', Buffer.byteLength(body));
  response.end(body);
}

export function errorHandler(log: Logger) {
  return function errorHandler(error: unknown, _request: HttpRequest, response: HttpResponse, _next: (error?: unknown) => void): void {
    const known = isWalcastError(error) ? error : fromHttpLayer(error as HttpLayerError);
    const rendered = known ?? new WalcastError('INTERNAL', 'internal error');
    if (!known || rendered.status >= 500) log.error({ err: error }, 'request failed');
    if (response.headersSent) {
      response.destroy();
      return;
    }
    sendError(response, rendered);
  };
}

/** What Node's HTTP parser refuses never reaches express: answer it in JSON too. */
export function clientErrorResponse(code: string | undefined): string {
  const [status, reason, message] =
    code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'the request headers are too large']
      : [400, 'Bad Request', 'the request is not valid HTTP'];
  const body = errorBody(new WalcastError('BAD_REQUEST', message));
  return `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}

export function notFound(_request: Request, response: Response): void {
  sendError(response, new WalcastError('NOT_FOUND', 'no such endpoint'));
}
