// Saved cards in the portal and refunds in the console: a customer replaces the saved
// card, the renewal is then paid by itself and shows in the portal; an admin refunds part
// of the order, and the customer finds the credit note on the invoice.

import { readFileSync } from 'node:fs';
import { reloadUntil, run, seeText } from './lib.mjs';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

async function signIn(page, base, email, password) {
  await page.goto(`${base}/ui/`);
  await page.fill('#login-form-email', email);
  await page.fill('#login-form-password', password);
  await page.click('#login-form button[type=submit]');
}

async function signOut(page) {
  await page.click('#sign-out');
  await page.locator('#login-form').waitFor();
}

run('cards', async ({ page, base }) => {
  // The customer: the card of the first payment is saved; they replace it.
  await signIn(page, base, env('CUSTOMER_EMAIL'), env('CUSTOMER_PASSWORD'));
  await page.click('nav >> text=Payment method');
  await seeText(page, 'visa ending in 4242');
  await seeText(page, 'renewals are charged to the saved card');
  await page.click('button:text("Replace card")');
  await page.waitForURL(/\/pay\//);
  await page.fill('#card', '5555555555554444');
  await page.click('#pay');
  await page.waitForURL(/#\/my\/payment/);
  await reloadUntil(page, '#saved-card >> text=ending in 4444', 'the new card never showed');
  await signOut(page);

  // The admin runs billing: the due renewal is charged to the new card.
  await signIn(page, base, env('ADMIN_EMAIL'), env('ADMIN_PASSWORD'));
  await seeText(page, 'servers online');
  await page.click('nav >> text=Invoices');
  await page.click('button:text("Run billing now")');
  await seeText(page, '1 paid by saved card');
  await page.reload();
  await page.locator('tr:has-text("renewal") a').first().click();
  await page.locator('main h2', { hasText: 'Automatic card payments' }).waitFor();
  await page.locator('main tr:has-text("succeeded")').first().waitFor();

  // ... and refunds part of the order, with a credit note.
  await page.goto(`${base}/ui/#/invoices/${env('ORDER_ID')}`);
  await page.locator('main h1', { hasText: /Invoice INV-\d{4}-000001/ }).waitFor();
  await page.fill('#refund-form-amount', 'lots');
  await page.fill('#refund-form-reason', 'goodwill for the outage');
  await page.click('#refund-form button[type=submit]');
  await page.locator('#refund-form-amount[aria-invalid="true"]').waitFor();
  await page.fill('#refund-form-amount', '1.00');
  await page.click('#refund-form button[type=submit]');
  await seeText(page, 'Refunded 1.00 USD; credit note CN-');
  await signOut(page);

  // The customer sees the paid renewal and the credit note.
  await signIn(page, base, env('CUSTOMER_EMAIL'), env('CUSTOMER_PASSWORD'));
  await page.click('nav >> text=Invoices');
  await page.locator('tr:has-text("-000002") >> text=paid').waitFor();
  await page.goto(`${base}/ui/#/my/invoices/${env('ORDER_ID')}`);
  await page.locator('main h1', { hasText: /Invoice INV-\d{4}-000001/ }).waitFor();
  await page.locator('main .credit-note', { hasText: /^CN-\d{4}-000001$/ }).waitFor();
  await seeText(page, 'goodwill for the outage');

  // The invoice and its credit note download as PDFs.
  for (const [selector, name] of [['#invoice-pdf', /^INV-\d{4}-000001\.pdf$/], ['main .credit-note', /^CN-\d{4}-000001\.pdf$/]]) {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
    if (!name.test(download.suggestedFilename())) throw new Error(`downloaded ${download.suggestedFilename()}`);
    const bytes = readFileSync(await download.path());
    if (bytes.subarray(0, 5).toString() !== '%PDF-') throw new Error(`${selector} is not a PDF`);
  }
});
