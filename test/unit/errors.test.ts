import { describe, expect, it } from 'vitest';
import { ERROR_CODES, WalcastError, type ErrorCode } from '../../src/errors.js';
import { sectionOf } from '../support/docs.js';

describe('error codes', () => {
  it('are exactly the ones docs/app-developers.md documents, with the same status', async () => {
    const section = await sectionOf('docs/app-developers.md', '## Errors');
    const documented = new Map([...section.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1]!, Number(m[2])]));
    const actual = new Map(Object.entries(ERROR_CODES).map(([code, status]) => [code.toLowerCase(), status]));
    expect(documented).toEqual(actual);
  });

  it('carry their status and wire code', () => {
    const error = new WalcastError('TABLE_NOT_FOUND' satisfies ErrorCode, 'x');
    expect(error.status).toBe(404);
    expect(error.wireCode).toBe('table_not_found');
  });
});
