// Tax in the console: an admin adds a tax rate, gives a customer a billing address
// (a malformed VAT number is refused beside its field), issues an order invoice that
// carries the tax, records the bank transfer, and finds the tax in the report and its CSV.

import { run, seeText } from './lib.mjs';

run('tax', async ({ page, base }) => {
  await page.goto(`${base}/ui/`);
  await page.fill('#login-form-email', process.env.ADMIN_EMAIL);
  await page.fill('#login-form-password', process.env.ADMIN_PASSWORD);
  await page.click('#login-form button[type=submit]');
  await seeText(page, 'hosting accounts');

  // A rate above 100 % is refused before it is sent; 19 % for Germany is added.
  await page.click('nav >> text=Tax');
  await page.locator('main h1', { hasText: 'Tax' }).waitFor();
  await page.fill('#tax-rate-form-name', 'VAT');
  await page.fill('#tax-rate-form-rate', '150');
  await page.fill('#tax-rate-form-country', 'DE');
  await page.click('#tax-rate-form button[type=submit]');
  await seeText(page, 'Enter the rate in percent');
  await page.fill('#tax-rate-form-rate', '19');
  await page.click('#tax-rate-form button[type=submit]');
  await seeText(page, 'VAT 19% for DE added');

  // The customer's billing address: a VAT number in the wrong format is refused beside it.
  await page.click('nav >> text=Customers');
  await page.click('text=ada@example.com');
  await page.click('#customer-billing summary');
  await page.fill('#customer-billing-form-address', 'Unter den Linden 1\nBerlin');
  await page.fill('#customer-billing-form-postal_code', '10117');
  await page.fill('#customer-billing-form-country', 'DE');
  await page.fill('#customer-billing-form-tax_id', 'DE123');
  await page.click('#customer-billing-form button[type=submit]');
  await page.locator('#customer-billing-form-tax_id[aria-invalid=true]').waitFor();
  await seeText(page, 'is not a VAT number in the format of DE');
  await page.fill('#customer-billing-form-tax_id', '');
  await page.click('#customer-billing-form button[type=submit]');
  await seeText(page, 'Billing address saved');

  // The next invoice carries the tax on its line and in its totals.
  await page.selectOption('#order-form-billing_cycle', 'monthly');
  await page.fill('#order-form-username', 'adatax');
  await page.click('#order-form button[type=submit]');
  await page.locator('#invoice-total', { hasText: '11.89 USD' }).waitFor();
  await page.locator('#invoice-tax', { hasText: '1.90 USD' }).waitFor();
  await seeText(page, 'VAT 19%: 1.90 USD');
  await seeText(page, 'Unter den Linden 1');
  const number = (await page.locator('main h1').innerText()).replace('Invoice ', '');
  if (!/^INV-\d{4}-000001$/.test(number)) throw new Error(`invoice number ${number}`);
  await page.fill('#mark-paid-form-reference', 'SEPA 4411');
  await page.click('#mark-paid-form button[type=submit]');
  await page.locator('main .badge', { hasText: 'paid' }).first().waitFor();

  // The tax report of this month shows it; its CSV says the same.
  await page.click('nav >> text=Tax');
  await page.locator('main td', { hasText: 'VAT' }).first().waitFor();
  await page.locator('main tr:has-text("DE") >> text=1.90 USD').first().waitFor();
  const href = await page.locator('#tax-csv').getAttribute('href');
  const csv = await page.evaluate(async (url) => (await fetch(url)).text(), href);
  if (!csv.includes('DE,VAT,1900,USD,1,999,190,0,0,999,190')) throw new Error(`CSV:\n${csv}`);

  // The dashboard draws the month's revenue and MRR from the report endpoints; the
  // screenshot stays as a test artefact.
  await page.click('nav >> text=Dashboard');
  await page.locator('#chart-revenue rect').first().waitFor({ state: 'attached' });
  const bars = await page.locator('#chart-revenue rect').evaluateAll((rects) => rects.filter((r) => Number(r.getAttribute('height')) > 0).length);
  if (bars < 1) throw new Error('the revenue chart has no bar');
  const shown = await page.locator('#chart-revenue text.chart-value').allTextContents();
  if (!shown.includes('11.89')) throw new Error(`revenue chart values ${shown}`);
  await page.locator('#chart-mrr rect').first().waitFor({ state: 'attached' });
  await page.screenshot({ path: `${process.env.SCREENSHOT_DIR || '/tmp'}/dashboard-charts.png`, fullPage: true });
  console.log(`RESULT ${JSON.stringify({ number })}`);
});
