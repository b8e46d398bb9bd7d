// Password reset from the console, in two steps around the real email:
// STEP=ask asks for a code; STEP=confirm opens RESET_LINK (from the email), sets a new
// password and signs in with it.

import { run, seeText } from './lib.mjs';

run(`reset-${process.env.STEP}`, async ({ page, base }) => {
  if (process.env.STEP === 'ask') {
    await page.goto(`${base}/ui/#/login`);
    await page.click('text=Forgot your password?');
    await page.fill('#reset-request-form-email', process.env.EMAIL);
    await page.click('#reset-request-form button[type=submit]');
    await seeText(page, 'a code is on its way');
    return;
  }
  await page.goto(process.env.RESET_LINK);
  // The link carries the code: only the new password is asked for.
  await page.locator('#reset-confirm-form-token').waitFor();
  if ((await page.locator('#reset-request-form').count()) !== 0) throw new Error('the code form was shown with a code');
  await page.fill('#reset-confirm-form-new_password', 'short');
  await page.click('#reset-confirm-form button[type=submit]');
  await page.locator('#reset-confirm-form-new_password[aria-invalid="true"]').waitFor();
  await page.fill('#reset-confirm-form-new_password', 'a-brand-new-password');
  await page.click('#reset-confirm-form button[type=submit]');
  await seeText(page, 'Your password is changed');
  await page.fill('#login-form-email', process.env.EMAIL);
  await page.fill('#login-form-password', 'a-brand-new-password');
  await page.click('#login-form button[type=submit]');
  await seeText(page, 'My hosting');
});
