// A self-signed certificate for the TLS tests (HTTP/2, proxies), valid for a day, naming
// localhost and 127.0.0.1.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

export async function selfSignedCertificate(files: { readonly key: string; readonly cert: string }): Promise<void> {
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout',
    files.key,
    '-out',
    files.cert,
  ]);
}
