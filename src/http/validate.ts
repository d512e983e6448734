// zod at the HTTP edge: a query that does not fit its schema is a 400, a body a 422,
// each naming the field.
import type { RequestHead } from './exchange.js';
import { parse } from 'node:querystring';
import type { Request } from 'express';
import type { z } from 'zod';
import { WalcastError } from '../errors.js';

/** The URL's query as express's "simple" parser reads it (a repeated name: an array); outside express too. */
export function queryOf(request: RequestHead): Record<string, string | string[] | undefined> {
  const url = request.url ?? '';
  const start = url.indexOf('?');
  return start < 0 ? {} : parse(url.slice(start + 1));
}

/** The path of the URL, without the query. */
export function pathOf(request: RequestHead): string {
  const url = request.url ?? '';
  const end = url.indexOf('?');
  return end < 0 ? url : url.slice(0, end);
}

export function parseQuery<T extends z.ZodType>(schema: T, request: RequestHead): z.infer<T> {
  const parsed = schema.safeParse(queryOf(request));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') || 'query';
    throw new WalcastError('INVALID_PARAMETER', `query parameter ${field}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/** A JSON body that does not fit its schema is a 422 naming the field. */
export function parseBody<T extends z.ZodType>(schema: T, request: Request): z.infer<T> {
  const parsed = schema.safeParse(request.body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') || 'body';
    throw new WalcastError('VALIDATION_FAILED', `${field}: ${issue?.message ?? 'invalid'}`, { details: { field } });
  }
  return parsed.data;
}
