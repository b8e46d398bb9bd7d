// Two-factor sign-in in the console: an admin turns it on by scanning (here: reading)
// the key, keeps the recovery codes, signs out and back in with a code; then requires
// it of staff, and a staff member who has none is sent to set it up.

import { createHmac } from 'node:crypto';
import { run, seeText } from './lib.mjs';

/** RFC 4648 base32 (no padding) to bytes, as authenticator apps read the manual key. */
function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of text.replace(/=+$/, '').toUpperCase()) {
    const v = alphabet.indexOf(c);
    if (v < 0) throw new Error(`not base32: ${c}`);
    bits += v.toString(2).padStart(5, '0');
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

/** The RFC 6238 code (HMAC-SHA1, 6 digits, 30 s) of `step`: what the phone shows. */
function totp(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', secret).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const n = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(n).padStart(6, '0');
}

/** The current step, after waiting out the last seconds of one (codes stay valid long enough). */
async function freshStep(page) {
  for (;;) {
    const now = Math.floor(Date.now() / 1000);
    if (now % 30 < 22) return Math.floor(now / 30);
    await page.waitForTimeout(1000);
  }
}

async function signIn(page, base, email, password) {
  await page.goto(`${base}/ui/#/login`);
  await page.fill('#login-form-email', email);
  await page.fill('#login-form-password', password);
  await page.click('#login-form button[type=submit]');
}

run('totp', async ({ page, base }) => {
  const email = process.env.ADMIN_EMAIL;
  const password = process.env.ADMIN_PASSWORD;
  await signIn(page, base, email, password);
  await seeText(page, 'hosting accounts');

  // Security → set up: the password first, then the QR code and the manual key.
  await page.click('#who-security');
  await page.locator('main h1', { hasText: 'Security' }).waitFor();
  await page.fill('#two-factor-setup-form-password', password);
  await page.click('#two-factor-setup-form button[type=submit]');
  await page.locator('#two-factor-qr').waitFor();
  const loaded = await page.locator('#two-factor-qr').evaluate((img) => img.complete && img.naturalWidth > 0);
  if (!loaded) throw new Error('the QR code image did not load');
  const secret = base32(await page.locator('#two-factor-key').innerText());

  // A wrong code is refused beside its field; the right one turns it on.
  let step = await freshStep(page);
  const right = totp(secret, step);
  await page.fill('#two-factor-enable-form-code', right === '000000' ? '111111' : '000000');
  await page.click('#two-factor-enable-form button[type=submit]');
  await seeText(page, 'does not match');
  await page.fill('#two-factor-enable-form-code', right);
  await page.click('#two-factor-enable-form button[type=submit]');
  await page.locator('#recovery-code-list li').first().waitFor();
  const codes = await page.locator('#recovery-code-list li').allInnerTexts();
  if (codes.length !== 10) throw new Error(`expected 10 recovery codes, got ${codes.length}`);
  await page.click('button:text("I have saved them")');
  await seeText(page, 'Two-factor sign-in is on');
  await seeText(page, 'Recovery codes left');

  // Sign out; the password alone now leads to the code step; the next code signs in.
  await page.click('#sign-out');
  await page.locator('#login-form').waitFor();
  await signIn(page, base, email, password);
  await page.locator('#code-form').waitFor();
  await page.fill('#code-form-code', right);
  await page.click('#code-form button[type=submit]');
  await seeText(page, 'wrong or was used already');
  await page.fill('#code-form-code', totp(secret, step + 1));
  await page.click('#code-form button[type=submit]');
  await seeText(page, 'hosting accounts');

  // A recovery code signs in too (once).
  await page.click('#sign-out');
  await page.locator('#login-form').waitFor();
  await signIn(page, base, email, password);
  await page.locator('#code-form').waitFor();
  await page.fill('#code-form-code', codes[0]);
  await page.click('#code-form button[type=submit]');
  await seeText(page, 'hosting accounts');

  // Require it of the team; a staff member without it is sent to set it up.
  await page.click('nav >> text=Team');
  await page.selectOption('#security-form-require', 'yes');
  await page.click('#security-form button[type=submit]');
  await seeText(page, 'now required');
  await page.click('#sign-out');
  await page.locator('#login-form').waitFor();
  await signIn(page, base, process.env.STAFF_EMAIL, process.env.STAFF_PASSWORD);
  await page.waitForURL(/#\/security$/);
  await seeText(page, 'The admins require two-factor sign-in');
  await page.locator('#two-factor-setup-form').waitFor();
  console.log(`RESULT ${JSON.stringify({ recovery_codes: codes })}`);
});
