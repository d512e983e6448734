// zod at the HTTP edge: a request part that does not fit its schema is a 400 naming the field.
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
