// The customer portal: register, order a plan, pay on the payment page, come back and
// find the hosting active with its license; the admin console stays closed.

import { reloadUntil, run, seeText } from './lib.mjs';

run('portal', async ({ page, base }) => {
  const submit = (form) => page.click(`#${form} button[type=submit]`);

  await page.goto(`${base}/ui/#/register`);
  await page.fill('#register-form-full_name', 'Zoe Customer');
  await page.fill('#register-form-email', 'zoe@example.com');
  await page.fill('#register-form-password', 'short');
  await submit('register-form');
  await page.locator('#register-form-password[aria-invalid="true"]').waitFor();
  await page.fill('#register-form-password', 'zoe-password-123');
  await submit('register-form');
  await seeText(page, 'Your account is ready');

  // Ordering: a username the panel cannot take is refused beside the field.
  const plan = page.locator('.plan[data-plan="Starter"]');
  await plan.locator('select[name=billing_cycle]').selectOption('USD:monthly');
  await plan.locator('input[name=username]').fill('Zoe!');
  await plan.locator('button[type=submit]').click();
  await plan.locator('input[name=username][aria-invalid="true"]').waitFor();
  await plan.locator('input[name=username]').fill('zoe1');
  await plan.locator('button[type=submit]').click();
  await seeText(page, 'Pay it to start your hosting');
  await seeText(page, 'Starter hosting, monthly');

  // Paying: off to the payment page and back.
  await page.click('button:text("Pay 9.99 USD")');
  await page.waitForURL(/\/pay\//);
  await page.click('#pay');
  await seeText(page, 'Thank you for your payment');
  await page.click('text=Go to your hosting');

  // The account appears, then turns active once the panel has made it.
  await reloadUntil(page, 'tr:has-text("zoe1") >> text=active', 'the account never became active');
  await page.locator('text=/NP-[A-Z0-9]{4}-/').first().waitFor();
  // Where to log in: the account's control panel, as in the welcome message.
  const panel = await page.locator('tr:has-text("zoe1") a.panel-link').getAttribute('href');
  if (panel !== process.env.SIM_URL) throw new Error(`panel link ${panel}, expected ${process.env.SIM_URL}`);
  // The license page: its quotas with what is in use (nothing yet).
  await page.locator('main a.mono', { hasText: /^NP-/ }).click();
  await page.locator('main h1', { hasText: 'License NP-' }).waitFor();
  await page.locator('tr:has-text("Domains") >> td.num >> text=5').waitFor();
  await page.click('nav >> text=Invoices');
  await page.locator('tr:has-text("9.99 USD") >> text=paid').waitFor();

  // The admin console is not for customers: its routes lead back to the portal, and
  // the API refuses the calls behind them.
  await page.goto(`${base}/ui/#/servers`);
  await page.waitForURL(/#\/my$/);
  await page.locator('main h1', { hasText: 'My hosting' }).waitFor();
  const status = await page.evaluate(async () => {
    const r = await fetch('/api/v1/nextpanel/servers');
    return r.status;
  });
  if (status !== 403) throw new Error(`a customer listing servers got ${status}`);
});
