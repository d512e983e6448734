// Embedded (dev) mode only: a persistent dev secret, the demo table and its page.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { fileURLToPath } from 'node:url';
import express, { Router } from 'express';
import pg from 'pg';
import { z } from 'zod';
import { signToken } from '../auth/jwt.js';
import { Exposure } from '../events/exposure.js';
import { parseQuery } from '../http/validate.js';
import { DEMO_PAGE, REACT_DEMO_PAGE } from './demo-page.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The SDK as built next to this file, the wire vocabulary it shares, and the one library it imports, for the browser. */
const CLIENT_DIR = path.join(here, '..', 'client');
const WIRE_DIR = path.join(here, '..', 'wire');
const DEMO_APP = path.join(here, 'demo-app.js');
/** Built by scripts/bundles.mjs next to this file. */
const REACT_DEMO = path.join(here, 'react-demo.js');
const SSE_PARSER = path.join(path.dirname(createRequire(import.meta.url).resolve('eventsource-parser/package.json')), 'dist', 'index.js');

/** A random HS256 secret kept under the data dir, so dev tokens survive restarts. */
export async function devSecret(dataDir: string): Promise<string> {
  const file = path.join(dataDir, 'dev-secret');
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  await mkdir(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/**
 * The demo table: todos private to their owner until shared (DESIGN §10). A todo with no
 * owner (one inserted with psql, as the banner shows, or kept from a demo before owners)
 * is the whole tenant's, so rows from the app's side still show to everyone.
 */
const DEMO_EXPOSURE = {
  tenantColumn: 'org_id',
  versionColumn: 'version',
  writableColumns: ['done', 'shared', 'title'],
  policy: 'or=(owner_id.eq.$sub,shared.is.true,owner_id.is.null)',
  setOnInsert: { owner_id: '$sub' },
};

/**
 * Creates and exposes the demo table, or brings one from an earlier version up to this
 * one in place (its rows kept): the data dir outlives upgrades. A second run changes
 * nothing, so a restart does not invalidate the streams of pages that reconnect.
 */
export async function installDemo(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('begin');
    await client.query(`
      create table if not exists public.todos (
        id        bigserial primary key,
        org_id    text not null,
        owner_id  text,
        title     text not null,
        done      boolean not null default false,
        shared    boolean not null default false
      )`);
    // Only when missing: DDL on an exposed table rewrites its exposure for every server.
    const present = await client.query<{ attname: string }>(
      `select attname from pg_attribute
        where attrelid = 'public.todos'::regclass and attname in ('owner_id', 'shared') and not attisdropped`,
    );
    const missing = new Set(['owner_id', 'shared']);
    for (const { attname } of present.rows) missing.delete(attname);
    if (missing.has('owner_id')) await client.query('alter table public.todos add column owner_id text');
    if (missing.has('shared')) await client.query('alter table public.todos add column shared boolean not null default false');
    const exposed = await client.query<{ exposure: unknown }>(`select exposure from walcast.exposed_tables where relid = 'public.todos'::regclass`);
    const current = exposed.rows[0] && Exposure.safeParse(exposed.rows[0].exposure);
    if (!current?.success || !exposedAsDemo(current.data)) {
      await client.query(
        `select walcast.expose('public.todos', tenant_column => $1, version_column => $2, writable_columns => $3,
                               policy => $4, set_on_insert => $5)`,
        [
          DEMO_EXPOSURE.tenantColumn,
          DEMO_EXPOSURE.versionColumn,
          DEMO_EXPOSURE.writableColumns,
          DEMO_EXPOSURE.policy,
          JSON.stringify(DEMO_EXPOSURE.setOnInsert),
        ],
      );
    }
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    await client.end();
  }
}

function exposedAsDemo(exposure: Exposure): boolean {
  const { tenantColumn, versionColumn, writableColumns, policy, setOnInsert } = exposure;
  return isDeepStrictEqual({ tenantColumn, versionColumn, writableColumns: [...(writableColumns ?? [])].sort(), policy, setOnInsert }, DEMO_EXPOSURE);
}

const TokenQuery = z.object({
  tenant: z.string().min(1).max(100).default('acme'),
  sub: z.string().min(1).max(100).default('dev-user'),
});

export function demoRoutes(secret: string, tenantClaim: string): Router {
  const router = Router();
  router.get('/dev/token', async function devToken(request, response) {
    const { tenant, sub } = parseQuery(TokenQuery, request);
    response.json({ token: await signToken(secret, { tenant, sub, ttlSeconds: 24 * 3600, tenantClaim }) });
  });
  router.get('/', function demoPage(_request, response) {
    response.type('html').send(DEMO_PAGE);
  });
  router.get('/react', function reactDemoPage(_request, response) {
    response.type('html').send(REACT_DEMO_PAGE);
  });
  router.get('/demo/demo-app.js', (_request, response) => response.sendFile(DEMO_APP));
  router.get('/demo/react-demo.js', (_request, response) => response.sendFile(REACT_DEMO));
  router.get('/demo/vendor/eventsource-parser.js', (_request, response) => response.sendFile(SSE_PARSER));
  router.use('/demo/client', express.static(CLIENT_DIR, { index: false, extensions: ['js'] }));
  router.use('/demo/wire', express.static(WIRE_DIR, { index: false, extensions: ['js'] }));
  return router;
}
