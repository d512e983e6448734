// Embedded (dev) mode only: a persistent dev secret, the demo table and its page.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Router } from 'express';
import pg from 'pg';
import { z } from 'zod';
import { signToken } from '../auth/jwt.js';
import { parseQuery } from '../http/validate.js';

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
  return router;
}

const DEMO_PAGE = `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>walcast demo</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 2rem auto; max-width: 52rem; }
  pre { background: #f4f4f4; padding: .5rem; overflow-x: auto; }
  #events li { font-family: ui-monospace, monospace; font-size: 13px; margin-bottom: .3rem; }
</style>
<h1>walcast demo</h1>
<p>Tenant <input id="tenant" value="acme" size="10"> <button id="connect">connect</button> <span id="status"></span></p>
<p>Change <code>public.todos</code> in psql (see the command walcast printed) and watch the events arrive:</p>
<pre>insert into todos (org_id, title) values ('acme', 'buy milk');</pre>
<ol id="events"></ol>
<script type="module">
  let source;
  const list = document.getElementById('events');
  const status = document.getElementById('status');
  async function connect() {
    source?.close();
    list.replaceChildren();
    const tenant = document.getElementById('tenant').value;
    const { token } = await (await fetch('/dev/token?tenant=' + encodeURIComponent(tenant))).json();
    source = new EventSource('/v1/stream?tables=public.todos&access_token=' + encodeURIComponent(token));
    source.onopen = () => { status.textContent = 'streaming'; };
    source.onerror = () => { status.textContent = 'reconnecting…'; };
    for (const type of ['change', 'truncate', 'invalidate', 'reset']) {
      source.addEventListener(type, (event) => {
        const item = document.createElement('li');
        item.textContent = type + ' ' + event.data;
        list.prepend(item);
      });
    }
  }
  document.getElementById('connect').onclick = connect;
  connect();
</script>
</html>
`;
