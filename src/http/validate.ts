// zod at the HTTP edge: a query that does not fit its schema is a 400, a body a 422,
// each naming the field.
import type { Request } from 'express';
import type { z } from 'zod';
import { WalcastError } from '../errors.js';

export function parseQuery<T extends z.ZodType>(schema: T, request: Request): z.infer<T> {
  const parsed = schema.safeParse(request.query);
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
