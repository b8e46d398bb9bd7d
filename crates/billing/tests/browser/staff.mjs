// Staff read the console and change nothing: no write pages in the menu, no action
// buttons, admin-only routes lead back to the dashboard; the audit log is readable.

import { run, seeText } from './lib.mjs';

run('staff', async ({ page, base }) => {
  await page.goto(`${base}/ui/`);
  await page.fill('#login-form-email', process.env.STAFF_EMAIL);
  await page.fill('#login-form-password', process.env.STAFF_PASSWORD);
  await page.click('#login-form button[type=submit]');
  await seeText(page, 'hosting accounts');
  const menu = await page.locator('#nav').innerText();
  for (const hidden of ['Servers', 'Plans', 'Provision']) {
    if (menu.includes(hidden)) throw new Error(`staff menu shows ${hidden}: ${menu}`);
  }
  await page.click('nav >> text=Customers');
  await seeText(page, 'ada@example.com');
  if (await page.locator('#customer-form').count()) throw new Error('staff can add customers');
  await page.click('text=ada@example.com');
  await seeText(page, 'Hosting accounts');
  if (await page.locator('button:text("Deactivate")').count()) throw new Error('staff can deactivate');
  await page.goto(`${base}/ui/#/servers`);
  await page.waitForURL(/#\/dashboard$/);
  await seeText(page, 'hosting accounts');
  await page.click('nav >> text=Audit log');
  await page.locator('text=customer.created').first().waitFor();

  // An expired access token is refreshed without the user noticing; when the refresh
  // token is gone too, the console asks to sign in again.
  const spoil = (fields) => page.evaluate((fields) => {
    const key = 'nextpanel-bill.session';
    const t = JSON.parse(sessionStorage.getItem(key));
    for (const f of fields) t[f] = 'npb_at_expired';
    sessionStorage.setItem(key, JSON.stringify(t));
  }, fields);
  await spoil(['access_token']);
  await page.click('nav >> text=Customers');
  await page.locator('main h1', { hasText: 'Customers' }).waitFor();
  await page.locator('main td >> text=ada@example.com').waitFor();
  await spoil(['access_token', 'refresh_token']);
  await page.click('nav >> text=Accounts');
  await seeText(page, 'Your session ended');
  await page.locator('#login-form').waitFor();
});
