// A customer upgrades mid-period from the license page, pays the prorated difference on
// the (fake) payment page, finds the new plan on the license and downloads the invoice.

import { readFileSync } from 'node:fs';
import { run, seeText } from './lib.mjs';

run('plan-change', async ({ page, base }) => {
  await page.goto(`${base}/ui/`);
  await page.fill('#login-form-email', process.env.CUSTOMER_EMAIL);
  await page.fill('#login-form-password', process.env.CUSTOMER_PASSWORD);
  await page.click('#login-form button[type=submit]');
  await page.locator('main h1', { hasText: 'My hosting' }).waitFor();
  await page.locator('main a.mono', { hasText: /^NP-/ }).first().click();
  await page.locator('main h1', { hasText: 'License NP-' }).waitFor();
  await seeText(page, 'You are on');

  // Pro costs more: the difference for the rest of the period is invoiced.
  const pro = await page.locator('#plan-change-form-plan_id option', { hasText: /^Pro:/ }).getAttribute('value');
  await page.selectOption('#plan-change-form-plan_id', pro);
  await page.click('#plan-change-form button[type=submit]');
  await seeText(page, 'for the rest of this period and the new plan starts');
  await seeText(page, 'Upgrade from Starter to Pro');
  const due = await page.locator('#invoice-total').innerText();
  if (due !== process.env.EXPECTED_DUE) throw new Error(`upgrade invoice ${due}, expected ${process.env.EXPECTED_DUE}`);

  // Paid on the payment page, the license is on Pro.
  await page.click(`button:text("Pay ${due}")`);
  await page.waitForURL(/\/pay\//);
  await page.click('#pay');
  await seeText(page, 'Thank you for your payment');
  await page.goto(`${base}/ui/#/my/licenses/${process.env.LICENSE_ID}`);
  await page.locator('main h1', { hasText: 'License NP-' }).waitFor();
  for (let i = 0; i < 50 && !(await page.locator('text=/You are on Pro/').count()); i++) {
    await page.waitForTimeout(200);
    await page.reload();
    await page.locator('main h1', { hasText: 'License NP-' }).waitFor();
  }
  await seeText(page, 'You are on Pro');

  // The invoice downloads as a PDF.
  await page.click('nav >> text=Invoices');
  await page.locator('main a', { hasText: process.env.INVOICE_PREFIX }).last().waitFor();
  const links = page.locator('main table a');
  await links.first().click();
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#invoice-pdf')]);
  if (readFileSync(await download.path()).subarray(0, 5).toString() !== '%PDF-') throw new Error('not a PDF');
});
