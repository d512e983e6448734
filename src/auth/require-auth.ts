// Middleware: the caller's Principal from `Authorization: Bearer` or `?access_token=`
// (EventSource cannot set headers). The token itself is never stored or logged.
import type { RequestHead } from '../http/exchange.js';
import type { NextFunction, Request, Response } from 'express';
import { WalcastError } from '../errors.js';
import { HEADER, QUERY } from '../wire/names.js';
import { queryOf } from '../http/validate.js';
import type { Principal, VerifyToken } from './jwt.js';

const BEARER = /^Bearer ([A-Za-z0-9_\-.=]+)$/;
const MAX_TOKEN_LENGTH = 8192;

export function tokenFrom(request: RequestHead): string {
  const header = request.headers[HEADER.authorization];
  if (header !== undefined) {
    const match = BEARER.exec(header);
    if (!match) throw new WalcastError('INVALID_TOKEN', 'the Authorization header must be "Bearer <token>"');
    return match[1]!;
  }
  const query = queryOf(request)[QUERY.accessToken];
  if (query === undefined) throw new WalcastError('AUTH_REQUIRED', 'a token is required (Authorization: Bearer or ?access_token=)');
  if (typeof query !== 'string' || query.length === 0) throw new WalcastError('INVALID_TOKEN', 'access_token must be given once');
  return query;
}

export function principalOf(response: Response): Principal {
  const principal = response.locals['principal'] as Principal | undefined;
  if (!principal) throw new WalcastError('INTERNAL', 'route is missing requireAuth');
  return principal;
}

/** The caller, from its token; a 401 without a valid one. */
export async function authenticate(verifyToken: VerifyToken, request: RequestHead): Promise<Principal> {
  const token = tokenFrom(request);
  if (token.length > MAX_TOKEN_LENGTH) throw new WalcastError('INVALID_TOKEN', 'the token is too long');
  return verifyToken(token);
}

export function requireAuth(verifyToken: VerifyToken) {
  return async function requireAuth(request: Request, response: Response, next: NextFunction): Promise<void> {
    response.locals['principal'] = await authenticate(verifyToken, request);
    next();
  };
}
