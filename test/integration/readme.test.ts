// The docs' examples work as written: the README's own app and the curl blocks of
// docs/app-developers.md run against `walcast serve` in embedded mode (what `npm start`
// runs), only the port changed.
import { execFile, spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, waitForOutput, type Run } from '../support/cli.js';
import { codeBlockIn } from '../support/docs.js';
import { freePort } from '../support/net.js';

const run = promisify(execFile);
let dataDir: string;
let server: Run;
let url: string;

const withPort = (code: string) => code.replaceAll('http://localhost:8080', url);

async function runShellBlock(file: string, heading: string): Promise<string> {
  const script = withPort(await codeBlockIn(file, heading, 'sh'));
  const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', script], { env: { ...process.env, WALCAST_DATA_DIR: dataDir } });
  return stdout;
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'walcast-readme-'));
  await chmod(dataDir, 0o755);
  const port = await freePort();
  url = `http://localhost:${port}`;
  server = runCli(['serve'], { WALCAST_DATA_DIR: dataDir, WALCAST_PORT: String(port), WALCAST_INSTANCE: 'readme' });
  await waitForOutput(server, /demo page/);
});

afterAll(async () => {
  server?.child.kill('SIGINT');
  await server?.exited;
  await rm(dataDir, { recursive: true, force: true });
});

describe('the README', () => {
  it('your own app: it sees its own insert, then the row the printed psql command inserts', async () => {
    // The block imports 'walcast/client': run from the repository root, that is this package.
    const code = withPort(await codeBlockIn('README.md', '## Your own app in five minutes', 'js'));
    const app = spawn(process.execPath, ['--input-type=module', '-e', code], { cwd: process.cwd() });
    const output: Run = { child: app, output: '', exited: new Promise((resolve) => app.once('exit', resolve)) };
    app.stdout.on('data', (chunk: Buffer) => (output.output += chunk.toString()));
    app.stderr.on('data', (chunk: Buffer) => (output.output += chunk.toString()));
    try {
      await waitForOutput(output, /'from my app'/);
      const [, psqlUrl, sql] = await waitForOutput(server, /psql: +psql (\S+) -c "(.+)"/);
      const db = new pg.Client({ connectionString: psqlUrl });
      await db.connect();
      try {
        await db.query(sql!);
      } finally {
        await db.end();
      }
      await waitForOutput(output, /'hello'/);
      expect(output.output).not.toMatch(/Error/);
    } finally {
      app.kill();
      await output.exited;
    }
  });
});

describe('docs/app-developers.md', () => {
  it('edits: insert, update, a stale update, delete', async () => {
    const lines = (await runShellBlock('docs/app-developers.md', '## Edits')).trim().split('\n');
    expect(JSON.parse(lines[0]!)).toMatchObject({ row: { org_id: 'acme', title: 'write docs', done: false, version: '1' } });
    expect(JSON.parse(lines[1]!)).toMatchObject({ row: { done: true, version: '2' } });
    expect(JSON.parse(lines[2]!)).toMatchObject({ error: 'version_conflict', current: { version: '2' } });
    expect(lines[3]).toBe('204');
  });

  it('presence: heartbeat, list, leave', async () => {
    const lines = (await runShellBlock('docs/app-developers.md', '## Presence')).trim().split('\n');
    expect(JSON.parse(lines[0]!)).toEqual({ room: 'lobby', connection: 'tab-1', ttlSeconds: 30 });
    expect(JSON.parse(lines[1]!)).toEqual({ room: 'lobby', members: [{ user: 'alice', connection: 'tab-1', state: { typing: false } }] });
    expect(lines[2]).toBe('204');
  });
});
