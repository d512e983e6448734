// The embedded demo (`npm start`'s server) and a Chromium to look at it, for the browser
// tests. CI installs Chromium (.ci/run); elsewhere a test without it says it was skipped.
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { chromium, type Browser } from 'playwright-core';
import { runCli, waitForOutput, type Run } from './cli.js';

export const CHROMIUM = process.env['WALCAST_CHROMIUM'] ?? '/usr/bin/chromium';
export const SCREENSHOTS = path.resolve('test-results/screenshots');
export const chromiumRunnable = existsSync(CHROMIUM) || process.env['CI'] === 'true';

export interface BrowserDemo {
  readonly browser: Browser;
  /** The demo page's URL, as the server printed it. */
  readonly demoUrl: string;
  /** The app's own reads and writes, as psql would make them: the rows. */
  sql(text: string): Promise<pg.QueryResultRow[]>;
  close(): Promise<void>;
}

export async function startBrowserDemo(instance: string): Promise<BrowserDemo> {
  const dataRoot = await mkdtemp(path.join(tmpdir(), `walcast-${instance}-`));
  await chmod(dataRoot, 0o755);
  let walcast: Run | undefined;
  let browser: Browser | undefined;
  const close = async () => {
    await browser?.close();
    if (walcast) {
      walcast.child.kill('SIGINT');
      await walcast.exited;
    }
    await rm(dataRoot, { recursive: true, force: true });
  };
  try {
    walcast = runCli(['serve'], { WALCAST_DATA_DIR: path.join(dataRoot, '.walcast'), WALCAST_PORT: '0', WALCAST_INSTANCE: instance });
    const [, demoUrl] = (await waitForOutput(walcast, /demo page: +(\S+)/)) as unknown as [string, string];
    const [, psqlUrl] = (await waitForOutput(walcast, /psql: +psql (\S+)/)) as unknown as [string, string];
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    await mkdir(SCREENSHOTS, { recursive: true });
    const sql = async (text: string) => {
      const db = new pg.Client({ connectionString: psqlUrl });
      await db.connect();
      try {
        return (await db.query(text)).rows;
      } finally {
        await db.end();
      }
    };
    return { browser, demoUrl, sql, close };
  } catch (error) {
    await close();
    throw error;
  }
}
