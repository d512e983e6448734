// Startup bench: `walcast serve` in embedded mode (as `npm start` runs it) until a
// browser-like EventSource client has received the first committed row.
// Cold = fresh data dir (initdb included); warm = the same data dir again.
// Usage: npm run build && node bench/startup.mjs
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EventSource } from 'eventsource';
import pg from 'pg';

async function oneRun(dataDir) {
  const started = performance.now();
  const child = spawn(process.execPath, ['dist/cli/main.js', 'serve'], {
    env: { ...process.env, WALCAST_DATA_DIR: dataDir, WALCAST_PORT: '0', WALCAST_INSTANCE: 'bench', LOG_LEVEL: 'warn' },
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  let timer;
  const match = await new Promise((resolve, reject) => {
    timer = setInterval(() => {
      const found = /stream: +(\S+)[\s\S]*psql: +psql (\S+)/.exec(output);
      if (found) resolve(found);
      else if (performance.now() - started > 60_000) reject(new Error(`no banner:\n${output}`));
    }, 10);
    child.once('exit', () => reject(new Error(`exited:\n${output}`)));
  }).finally(() => clearInterval(timer));
  const serving = performance.now();
  const source = new EventSource(match[1]);
  await new Promise((resolve) => source.addEventListener('open', resolve, { once: true }));
  const db = new pg.Client({ connectionString: match[2] });
  await db.connect();
  const committed = performance.now();
  const received = new Promise((resolve) => source.addEventListener('change', () => resolve(performance.now()), { once: true }));
  await db.query(`insert into todos (org_id, title) values ('acme', 'bench')`);
  const firstEvent = await received;
  source.close();
  await db.end();
  child.kill('SIGINT');
  await new Promise((resolve) => child.once('exit', resolve));
  return {
    startToServingMs: Math.round(serving - started),
    startToFirstEventMs: Math.round(firstEvent - started),
    commitToEventMs: Math.round((firstEvent - committed) * 10) / 10,
  };
}

const root = mkdtempSync(path.join(tmpdir(), 'walcast-bench-'));
chmodSync(root, 0o755);
try {
  const dataDir = path.join(root, '.walcast');
  const cold = await oneRun(dataDir);
  const warm = await oneRun(dataDir);
  console.log(JSON.stringify({ bench: 'startup', cold, warm }));
  console.log(`startup: cold ${cold.startToFirstEventMs} ms, warm ${warm.startToFirstEventMs} ms from serve to first event in an EventSource`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
