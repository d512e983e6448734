// The `next` token of a paged snapshot read: which snapshot, which table and filter, and
// the key of the last row sent. Not secret and not trusted: every page is still filtered
// by the caller's tenant, values go in as parameters, and the snapshot ID is checked.
import { z } from 'zod';
import { WalcastError } from '../errors.js';
import { FILTER_LIMITS } from '../filters/index.js';

export const PageToken = z.object({
  snapshot: z.string().max(64),
  cursor: z.string().max(8_192),
  relid: z.number().int().positive(),
  tenant: z.string(),
  where: z.array(z.string().max(FILTER_LIMITS.maxLength)).max(FILTER_LIMITS.maxTerms),
  after: z.array(z.string().max(10_000)).max(32),
});
export type PageToken = z.infer<typeof PageToken>;

export function formatPageToken(token: PageToken): string {
  return Buffer.from(JSON.stringify(token), 'utf8').toString('base64url');
}

export function parsePageToken(text: string): PageToken {
  try {
    return PageToken.parse(JSON.parse(Buffer.from(text, 'base64url').toString('utf8')));
  } catch {
    throw new WalcastError('INVALID_PARAMETER', 'page: not a page token (use the "next" value of the previous page as it is)');
  }
}
