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
  await seeText(page, 'hosting accounts');
  await page.click('nav >> text=Audit log');
  await page.locator('text=customer.created').first().waitFor();
});
