// Embedded (dev) mode only: a persistent dev secret, the demo table and its page.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { Router } from 'express';
import pg from 'pg';
import { z } from 'zod';
import { signToken } from '../auth/jwt.js';
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

export async function installDemo(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`
      create table if not exists public.todos (
        id      bigserial primary key,
        org_id  text not null,
        title   text not null,
        done    boolean not null default false
      )`);
    const exposed = await client.query(`select 1 from walcast.exposed_tables where relid = 'public.todos'::regclass`);
    if (exposed.rowCount === 0) {
      await client.query(
        `select walcast.expose('public.todos', tenant_column => 'org_id', version_column => 'version',
                               writable_columns => '{title,done}')`,
      );
    }
  } finally {
    await client.end();
  }
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
