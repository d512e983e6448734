// The `:key` of /v1/tables/:table/rows/:key: the row's key values in key order, joined by
// `,`, each percent-encoded (so a comma inside a value is `%2C`). Read from the raw path,
// before any decoding, so that both commas and encoded commas keep their meaning.
import { WalcastError } from '../errors.js';

export function parseRowKey(rawSegment: string, keyColumns: readonly string[]): string[] {
  const parts = rawSegment.split(',');
  if (parts.length !== keyColumns.length) {
    throw new WalcastError(
      'INVALID_PARAMETER',
      `the key of this table is (${keyColumns.join(', ')}): give ${keyColumns.length} value${keyColumns.length === 1 ? '' : 's'} joined by "," (percent-encode a "," inside a value)`,
    );
  }
  return parts.map((part) => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw new WalcastError('INVALID_PARAMETER', 'the key is not valid percent-encoding');
    }
  });
}

/** The raw last path segment of a request URL (no query). */
export function lastPathSegment(url: string): string {
  const path = url.split('?')[0] ?? '';
  return path.slice(path.lastIndexOf('/') + 1);
}
