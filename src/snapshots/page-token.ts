// The `next` token of a paged snapshot read: which snapshot, which table and filter, and
// the key of the last row sent. Not secret and not trusted: every page is still filtered
// by the caller's tenant and policy, values go in as parameters, the snapshot ID and the
// cursor are checked, and only the tenant that holds a snapshot ends it (held-snapshots).
import { z } from 'zod';
import { WalcastError } from '../errors.js';
import { FILTER_LIMITS } from '../filters/index.js';
import { parseCursor } from '../wire/cursor.js';

export const PageToken = z.object({
  snapshot: z.string().max(64),
  // Sent back as it is, in the body and a header: only a cursor walcast could have made.
  cursor: z.string().refine((text) => parseCursor(text) !== undefined),
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
