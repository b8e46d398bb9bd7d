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

  // The session lives in an HttpOnly cookie that no script on the page can read.
  const visible = await page.evaluate(() => document.cookie);
  if (visible.includes('npb_session')) throw new Error(`the session cookie is readable by scripts: ${visible}`);
  if (!visible.includes('npb_csrf=')) throw new Error(`no CSRF cookie: ${visible}`);
  // When the session no longer works on the server (here: a stale token in the cookie),
  // the console asks to sign in again.
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'npb_session');
  if (!session || !session.httpOnly || session.sameSite !== 'Strict') throw new Error(`session cookie ${JSON.stringify(session)}`);
  await page.context().addCookies([{ ...session, value: 'npb_at_expired' }]);
  await page.click('nav >> text=Accounts');
  await seeText(page, 'Your session ended');
  await page.locator('#login-form').waitFor();
});
