// The README's curl examples work as written: run against `walcast serve` in embedded
// mode (what `npm start` runs), only the port changed.
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, waitForOutput, type Run } from '../support/cli.js';
import { freePort } from '../support/net.js';

const run = promisify(execFile);
let dataDir: string;
let server: Run;
let url: string;

/** The first ```sh block after a heading of the README. */
async function shellBlockAfter(heading: string): Promise<string> {
  const readme = await readFile('README.md', 'utf8');
  const from = readme.indexOf(`${heading}\n`);
  const start = readme.indexOf('```sh\n', from) + '```sh\n'.length;
  return readme.slice(start, readme.indexOf('```', start));
}

async function runBlock(heading: string): Promise<string> {
  const script = (await shellBlockAfter(heading)).replaceAll('http://localhost:8080', url);
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
  it('edits: insert, update, a stale update, delete', async () => {
    const output = await runBlock('### Edits');
    const lines = output.trim().split('\n');
    expect(JSON.parse(lines[0]!)).toMatchObject({ row: { org_id: 'acme', title: 'write docs', done: false, version: '1' } });
    expect(JSON.parse(lines[1]!)).toMatchObject({ row: { done: true, version: '2' } });
    expect(JSON.parse(lines[2]!)).toMatchObject({ error: 'version_conflict', current: { version: '2' } });
    expect(lines[3]).toBe('204');
  });

  it('presence: heartbeat, list, leave', async () => {
    const lines = (await runBlock('### Presence')).trim().split('\n');
    expect(JSON.parse(lines[0]!)).toEqual({ room: 'lobby', connection: 'tab-1', ttlSeconds: 30 });
    expect(JSON.parse(lines[1]!)).toEqual({ room: 'lobby', members: [{ user: 'alice', connection: 'tab-1', state: { typing: false } }] });
    expect(lines[2]).toBe('204');
  });
});
