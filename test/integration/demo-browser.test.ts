// The embedded demo (`npm start`) in real Chromium: two windows of one tenant see each
// other's edits and presence live and get a conflict prompt on a 409; a window of another
// tenant sees none of it. A todo is its owner's until shared (the demo table's row policy,
// DESIGN §10): sharing shows it to the tenant at once, unsharing takes it away.
// Screenshots go to test-results/screenshots/.
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumRunnable as runnable, SCREENSHOTS, startBrowserDemo, type BrowserDemo } from '../support/browser-demo.js';

let demo: BrowserDemo;
let demoUrl: string;

beforeAll(async () => {
  if (!runnable) return;
  demo = await startBrowserDemo('demo');
  demoUrl = demo.demoUrl;
}, 120_000);

afterAll(async () => {
  await demo?.close();
});

async function open(tenant: string, user: string): Promise<Page> {
  const page = await (await demo.browser.newContext({ viewport: { width: 760, height: 560 } })).newPage();
  page.on('pageerror', (error) => {
    throw error;
  });
  await page.goto(`${demoUrl}?tenant=${tenant}&user=${user}`);
  await page.locator('#status.live').waitFor();
  return page;
}

/** The app's own writes, as psql would make them. */
const sql = (text: string) => demo.sql(text);

const todo = (page: Page, title: string) => page.locator('#todos li', { has: page.locator('.title', { hasText: title }) });
const titles = (page: Page) => page.locator('#todos li .title').allTextContents();
/** Adds a todo and waits until the server has it (it is ours, so it shows a share button). */
async function add(page: Page, title: string): Promise<void> {
  await page.fill('#new-title', title);
  await page.press('#new-title', 'Enter');
  await todo(page, title).locator('button.share').waitFor();
}
const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SCREENSHOTS, `demo-${name}.png`) });

describe.skipIf(!runnable)('demo in Chromium', () => {
  it('two windows of a tenant edit together, see who is there and resolve a conflict; another tenant sees nothing', async () => {
    const alice = await open('acme', 'alice');
    const bob = await open('acme', 'bob');
    const gina = await open('globex', 'gina');

    await add(alice, 'buy milk');
    await todo(alice, 'buy milk').getByRole('button', { name: 'Share', exact: true }).click();
    await todo(bob, 'buy milk').locator('.visibility', { hasText: 'shared by alice' }).waitFor();
    await bob.locator('#people .person[data-user="alice"]').waitFor();
    await alice.locator('#people .person[data-user="bob"]').waitFor();

    // A shared todo is the tenant's to tick and rename; only its owner shares it.
    expect(await todo(bob, 'buy milk').locator('button.share').count()).toBe(0);
    await todo(bob, 'buy milk').getByRole('checkbox', { name: 'done' }).check();
    await expect.poll(() => todo(alice, 'buy milk').getAttribute('class')).toContain('done');

    // Alice starts editing; Bob sees it, edits and saves first; Alice's save is a 409.
    await todo(alice, 'buy milk').getByRole('button', { name: 'Edit' }).click();
    await todo(bob, 'buy milk').locator('.editing-by', { hasText: 'alice is editing' }).waitFor();
    await alice.fill('.title-input', 'buy oat milk');
    await todo(bob, 'buy milk').getByRole('button', { name: 'Edit' }).click();
    await bob.fill('.title-input', 'buy al');
    // Someone else's change re-renders Bob's list while he types: his input keeps its text,
    // focus and caret, and the rest of what he types goes where it should.
    await sql(`insert into todos (org_id, title) values ('acme', 'meanwhile')`);
    await todo(bob, 'meanwhile').waitFor();
    await bob.keyboard.type('mond milk');
    expect(await bob.inputValue('.title-input')).toBe('buy almond milk');
    await sql(`delete from todos where title = 'meanwhile'`);
    await todo(bob, 'meanwhile').waitFor({ state: 'detached' });
    await bob.click('button.save');
    await todo(bob, 'buy almond milk').waitFor();
    await bob.locator('#pending').waitFor({ state: 'hidden' });
    await alice.click('button.save');
    await alice.locator('#conflict').waitFor();
    expect(await alice.textContent('#conflict-theirs')).toBe('buy almond milk');
    expect(await alice.textContent('#conflict-mine')).toBe('buy oat milk');
    await shot(alice, 'conflict');
    await alice.click('#use-mine');
    await todo(bob, 'buy oat milk').waitFor();
    await todo(alice, 'buy oat milk').waitFor();

    // A plain EventSource (no SDK) in the same browser, for the stream as the README shows it.
    await gina.evaluate(async () => {
      const { token } = (await (await fetch('/dev/token?tenant=globex&sub=plain')).json()) as { token: string };
      const source = new EventSource(`/v1/stream?tables=public.todos&access_token=${token}`);
      const first = new Promise<{ title: unknown; lastEventId: string }>((resolve) => {
        source.addEventListener('change', (event) => {
          source.close();
          resolve({ title: (JSON.parse(event.data) as { row: { title: unknown } }).row.title, lastEventId: event.lastEventId });
        });
      });
      (globalThis as unknown as { firstChange: typeof first }).firstChange = first;
      await new Promise((resolve) => source.addEventListener('open', resolve, { once: true }));
    });
    const plain = gina.evaluate(() => (globalThis as unknown as { firstChange: Promise<unknown> }).firstChange);

    // The app's own writes (here psql) show too, in their tenant only.
    await sql(`insert into todos (org_id, title) values ('acme', 'from psql'), ('globex', 'globex only')`);
    expect(await plain).toMatchObject({ title: 'globex only', lastEventId: expect.stringMatching(/^[0-9A-F]{16}-[0-9A-F]{6}$/) });
    await todo(alice, 'from psql').waitFor();
    await todo(gina, 'globex only').waitFor();
    await shot(alice, 'alice');
    await shot(bob, 'bob');
    await shot(gina, 'other-tenant');

    expect(await gina.locator('#todos li .title').allTextContents()).toEqual(['globex only']);
    expect(await gina.locator('#people .person').allTextContents()).toEqual(['gina (you)']);
    expect(await bob.locator('#todos li .title').allTextContents()).toEqual(['buy oat milk', 'from psql']);

    await todo(alice, 'from psql').getByRole('button', { name: 'Delete' }).click();
    await expect.poll(() => bob.locator('#todos li .title').allTextContents()).toEqual(['buy oat milk']);

    // Offline: Bob's edit shows at once, waits, and is sent when he is back; then he shares it.
    await bob.context().setOffline(true);
    await bob.fill('#new-title', 'added offline');
    await bob.press('#new-title', 'Enter');
    await todo(bob, 'added offline').waitFor();
    await expect.poll(() => bob.textContent('#pending')).toBe('1 change not saved yet');
    await shot(bob, 'offline');
    await bob.context().setOffline(false);
    await bob.locator('#pending').waitFor({ state: 'hidden' });
    await todo(bob, 'added offline').getByRole('button', { name: 'Share', exact: true }).click();
    await todo(alice, 'added offline').waitFor();
    expect(await alice.locator('#todos li .title').allTextContents()).toEqual(['buy oat milk', 'added offline']);
  }, 60_000);

  it('a todo shows only to its owner until shared; sharing shows it to the tenant at once, unsharing takes it away; another tenant never sees it', async () => {
    const peter = await open('initech', 'peter');
    const milton = await open('initech', 'milton');
    const gavin = await open('hooli', 'gavin');

    await add(peter, 'staple report');
    expect(await todo(peter, 'staple report').locator('.visibility').textContent()).toBe('private');
    // A later change that Milton does see: had the private todo reached him, it would have first.
    await sql(`insert into todos (org_id, title) values ('initech', 'team lunch')`);
    await todo(milton, 'team lunch').locator('.visibility', { hasText: "everyone's" }).waitFor();
    expect(await titles(milton)).toEqual(['team lunch']);
    await todo(peter, 'team lunch').waitFor();
    await shot(peter, 'private');

    await todo(peter, 'staple report').getByRole('button', { name: 'Share', exact: true }).click();
    await todo(milton, 'staple report').locator('.visibility', { hasText: 'shared by peter' }).waitFor();
    expect(await titles(milton)).toEqual(['staple report', 'team lunch']);
    expect(await todo(peter, 'staple report').locator('.visibility').textContent()).toBe('shared');
    expect(await todo(peter, 'staple report').locator('button.share').getAttribute('aria-pressed')).toBe('true');
    await shot(milton, 'shared-with-me');

    // Milton may tick Peter's shared todo (it stays in his view) but not unshare it: that
    // would hide the row from its author, which the policy refuses and which changes nothing.
    expect(await todo(milton, 'staple report').locator('button.share').count()).toBe(0);
    await todo(milton, 'staple report').getByRole('checkbox', { name: 'done' }).check();
    await expect.poll(() => todo(peter, 'staple report').getAttribute('class')).toContain('done');
    const refused = await milton.evaluate(async () => {
      const { token } = (await (await fetch('/dev/token?tenant=initech&sub=milton')).json()) as { token: string };
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      const { rows } = (await (await fetch('/v1/tables/todos/rows', { headers })).json()) as { rows: { id: string; title: string; version: string }[] };
      const row = rows.find((candidate) => candidate.title === 'staple report')!;
      const body = JSON.stringify({ version: Number(row.version), set: { shared: false } });
      const response = await fetch(`/v1/tables/todos/rows/${row.id}`, { method: 'PATCH', headers, body });
      return { status: response.status, body: (await response.json()) as unknown };
    });
    expect(refused).toMatchObject({ status: 403, body: { error: 'policy_violation' } });

    // Peter unshares while Milton is editing it: it leaves Milton's list, and his edit with it.
    await todo(milton, 'staple report').getByRole('button', { name: 'Edit' }).click();
    await todo(peter, 'staple report').locator('.editing-by', { hasText: 'milton is editing' }).waitFor();
    await todo(peter, 'staple report').getByRole('button', { name: 'Unshare' }).click();
    // While Milton edits it, its item shows an input rather than its title: find it by id.
    const id = await todo(peter, 'staple report').getAttribute('data-id');
    await milton.locator(`#todos li[data-id="${id}"]`).waitFor({ state: 'detached' });
    expect(await milton.locator('.title-input').count()).toBe(0);
    await todo(peter, 'staple report').locator('.editing-by').waitFor({ state: 'detached' });
    expect(await todo(peter, 'staple report').locator('.visibility').textContent()).toBe('private');
    await sql(`insert into todos (org_id, title) values ('initech', 'after the unshare'), ('hooli', 'hooli only')`);
    await todo(milton, 'after the unshare').waitFor();
    expect(await titles(milton)).toEqual(['team lunch', 'after the unshare']);
    await shot(milton, 'unshared');
    // A fresh page reads the table anew (a snapshot): still hidden.
    await milton.reload();
    await todo(milton, 'after the unshare').waitFor();
    expect(await titles(milton)).toEqual(['team lunch', 'after the unshare']);
    expect(await titles(peter)).toEqual(['staple report', 'team lunch', 'after the unshare']);

    // The React page (walcast/react) shows the same and shares the same way.
    const react = await (await demo.browser.newContext({ viewport: { width: 760, height: 560 } })).newPage();
    react.on('pageerror', (error) => {
      throw error;
    });
    await react.goto(new URL('/react?tenant=initech&user=peter', demoUrl).href);
    await todo(react, 'staple report').locator('.visibility', { hasText: 'private' }).waitFor();
    expect(await todo(react, 'team lunch').locator('.visibility').textContent()).toBe("everyone's");
    expect(await todo(react, 'team lunch').locator('button.share').count()).toBe(0);
    await todo(react, 'staple report').getByRole('button', { name: 'Share', exact: true }).click();
    await todo(milton, 'staple report').locator('.visibility', { hasText: 'shared by peter' }).waitFor();
    await todo(react, 'staple report').locator('.visibility', { hasText: 'shared' }).waitFor();
    await shot(react, 'react-shared');
    await todo(react, 'staple report').getByRole('button', { name: 'Unshare' }).click();
    await todo(milton, 'staple report').waitFor({ state: 'detached' });
    await todo(peter, 'staple report').locator('.visibility', { hasText: 'private' }).waitFor();

    await todo(gavin, 'hooli only').waitFor();
    expect(await titles(gavin)).toEqual(['hooli only']);
    await shot(gavin, 'policy-other-tenant');
  }, 60_000);
});
