// Front ends in real Chromium over HTTP/1.1 (the embedded server of `npm start`): ten tabs
// of one user share one stream (one tab holds it; the others get its events over
// BroadcastChannel), and when the holder closes another takes over with no gap and no
// duplicate; the React demo page updates live. Screenshots go to test-results/screenshots/.
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumRunnable as runnable, SCREENSHOTS, startBrowserDemo, type BrowserDemo } from '../support/browser-demo.js';
import { eventually, metric } from '../support/wait.js';

const TABS = 10;

let demo: BrowserDemo;
let base: string;

beforeAll(async () => {
  if (!runnable) return;
  demo = await startBrowserDemo('tabs');
  base = demo.demoUrl.replace(/\/$/, '');
}, 120_000);

afterAll(async () => {
  await demo?.close();
});

const sql = (text: string) => demo.sql(text);

const openStreams = () => metric(base, 'walcast_clients');

/** Chromium's tabs take their time on 2 cores. */
const until = (what: string, condition: () => Promise<boolean> | boolean) => eventually(what, condition, 15_000, 50);

/**
 * The demo page of `user`, plus a probe in the same tab: a second client of the SDK (a
 * member of the same tab group) that counts every change it applies, by event ID.
 */
async function openTab(context: BrowserContext, user: string): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (error) => {
    throw error;
  });
  await page.goto(`${base}/?tenant=acme&user=${user}`);
  await page.locator('#status.live').waitFor();
  // A string, so the test runner does not rewrite the page's dynamic import.
  await page.evaluate(`(async () => {
    const { createClient } = await import('/demo/client/index.js');
    const token = async () => (await (await fetch('/dev/token?tenant=acme&sub=${user}')).json()).token;
    const todos = createClient({ url: location.origin, token }).subscribe({ tables: ['todos'] });
    const applied = {};
    todos.on('change', (event) => { applied[event.id] = (applied[event.id] ?? 0) + 1; });
    Object.assign(globalThis, { applied, probe: todos });
    await todos.ready();
  })()`);
  return page;
}

/** Each event ID the tab's probe applied, with how often. */
const applied = (page: Page) => page.evaluate(() => (globalThis as unknown as { applied: Record<string, number> }).applied);
const titles = (page: Page) => page.locator('#todos li .title').allTextContents();

describe.skipIf(!runnable)('front ends in Chromium', () => {
  it('ten tabs of one user live on one stream; when the holder closes another takes over, and a row inserted meanwhile arrives in every tab exactly once', async () => {
    const context = await demo.browser.newContext({ viewport: { width: 760, height: 560 } });
    const streamsBy = new Map<Page, number>();
    const tabs: Page[] = [];
    for (let index = 0; index < TABS; index++) {
      const page = await openTab(context, 'tabby');
      tabs.push(page);
      page.on('request', (request) => {
        if (new URL(request.url()).pathname === '/v1/stream') streamsBy.set(page, (streamsBy.get(page) ?? 0) + 1);
      });
    }
    expect(await openStreams()).toBe(1);

    await sql(`insert into todos (org_id, title) values ('acme', 'seen by ten tabs')`);
    for (const tab of tabs) await tab.locator('#todos li .title', { hasText: 'seen by ten tabs' }).waitFor();
    expect(await openStreams()).toBe(1);
    // The last tab joined the room after the stream's own sync: the holder told it who is there.
    await expect.poll(() => tabs.at(-1)!.locator('#people .person').count()).toBe(TABS);
    await tabs.at(-1)!.screenshot({ path: path.join(SCREENSHOTS, 'tabs-one-stream.png') });

    // The first tab asked for the lock first: it holds the stream (the others asked for none).
    const holder = tabs[0]!;
    expect(await holder.evaluate(async () => (await navigator.locks.query()).held?.length)).toBe(1);
    expect([...streamsBy.keys()]).toEqual([]);
    await holder.close();
    const remaining = tabs.slice(1);
    await sql(`insert into todos (org_id, title) values ('acme', 'while the holder was gone')`);
    await sql(`insert into todos (org_id, title) values ('acme', 'just after')`);

    for (const tab of remaining) {
      await tab.locator('#todos li .title', { hasText: 'just after' }).waitFor();
      expect(await titles(tab)).toEqual(['seen by ten tabs', 'while the holder was gone', 'just after']);
    }
    // One of the others opened the stream again, and only one.
    await until('one stream is open again', async () => (await openStreams()) === 1);
    expect([...streamsBy.keys()]).toHaveLength(1);
    expect(streamsBy.has(holder)).toBe(false);
    for (const tab of remaining) {
      const counts = await applied(tab);
      expect(Object.keys(counts)).toHaveLength(3);
      expect(Object.values(counts)).toEqual([1, 1, 1]);
    }
    await remaining[0]!.screenshot({ path: path.join(SCREENSHOTS, 'tabs-after-takeover.png') });
    await context.close();
    await until('the streams of the closed tabs end', async () => (await openStreams()) === 0);
  }, 120_000);

  it('a React page (walcast/react) updates live when a row is inserted with SQL, and edits through the subscription', async () => {
    const context = await demo.browser.newContext({ viewport: { width: 760, height: 560 } });
    const page = await context.newPage();
    page.on('pageerror', (error) => {
      throw error;
    });
    await page.goto(`${base}/react?tenant=react-co&user=rhea`);
    await page.locator('#status.live').waitFor();
    await page.locator('#people .person[data-user="rhea"]').waitFor();
    await sql(`insert into todos (org_id, title) values ('react-co', 'inserted with SQL'), ('acme', 'not this tenant')`);
    const row = page.locator('#todos li', { has: page.locator('.title', { hasText: 'inserted with SQL' }) });
    await row.waitFor();
    expect(await page.locator('#todos li .title').allTextContents()).toEqual(['inserted with SQL']);
    await row.getByRole('checkbox').check();
    await until('the edit is committed', async () => (await sql(`select done from todos where title = 'inserted with SQL'`))[0]?.['done'] === true);
    await sql(`update todos set title = 'renamed in psql' where title = 'inserted with SQL'`);
    await page.locator('#todos li .title', { hasText: 'renamed in psql' }).waitFor();
    await expect.poll(() => page.locator('#todos li').first().getAttribute('class')).toBe('done');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'react-demo.png') });
    await context.close();
  }, 60_000);
});
