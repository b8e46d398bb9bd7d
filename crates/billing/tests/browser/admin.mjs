// The admin console, as an admin uses it on day one: sign in, add a NextPanel server
// (testing the connection first), create a plan, add a customer, provision an account
// and suspend it. Prints `RESULT {json}` with the credentials shown, for the Rust side
// to check against the simulator.

import { reloadUntil, run, seeText } from './lib.mjs';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

run('admin', async ({ page, base }) => {
  const submit = (form) => page.click(`#${form} button[type=submit]`);

  // Signing in: a wrong password is refused in words, the right one opens the dashboard.
  await page.goto(`${base}/ui/`);
  await page.fill('#login-form-email', env('ADMIN_EMAIL'));
  await page.fill('#login-form-password', 'not-the-password');
  await submit('login-form');
  await page.locator('#login-form .alert.error').waitFor();
  await page.fill('#login-form-password', env('ADMIN_PASSWORD'));
  await submit('login-form');
  await seeText(page, 'servers online');

  // A server: the connection test names a wrong secret; the API's field error lands
  // beside the field; the good one is added and online.
  await page.click('nav >> text=Servers');
  await page.click('text=Add server');
  await page.fill('#server-form-name', 'web1');
  await page.fill('#server-form-base_url', env('SIM_URL'));
  await page.fill('#server-form-api_key', env('SIM_KEY'));
  await page.fill('#server-form-api_secret', 'wrong-secret-1234');
  await page.click('text=Test connection');
  await page.locator('#test-result >> text=bad_credentials').waitFor();
  await page.fill('#server-form-api_secret', env('SIM_SECRET'));
  await page.click('text=Test connection');
  await page.locator('#test-result >> text=Connected in').waitFor();
  await page.fill('#server-form-base_url', 'ftp://panel.example.com');
  await submit('server-form');
  await page.locator('#server-form-base_url[aria-invalid="true"]').waitFor();
  await page.fill('#server-form-base_url', env('SIM_URL'));
  await submit('server-form');
  await seeText(page, 'Server web1 added (online)');
  await seeText(page, 'idempotency, lookup, package, password');

  // A plan: prices are exact; a third decimal in USD is refused before sending.
  await page.click('nav >> text=Plans');
  await page.click('text=New plan');
  await page.fill('#plan-form-name', 'Starter');
  await page.fill('#plan-form-description', 'One fast site');
  await page.fill('#plan-form-price_monthly', '9.999');
  await submit('plan-form');
  await page.locator('#plan-form-price_monthly[aria-invalid="true"]').waitFor();
  await page.fill('#plan-form-price_monthly', '9.99');
  await page.fill('#plan-form-price_annual', '99');
  await page.fill('#plan-form-max_domains', '5');
  await submit('plan-form');
  await seeText(page, '9.99 USD/monthly · 99.00 USD/annual');

  // Customers: a name full of markup is shown as text and runs nothing.
  await page.click('nav >> text=Customers');
  await seeText(page, env('EVIL_NAME'));
  if (await page.evaluate(() => window.__xss)) throw new Error('customer text ran as script');
  await page.fill('#customer-form-email', 'erin@example.com');
  await page.fill('#customer-form-full_name', 'Erin Example');
  await submit('customer-form');
  await seeText(page, 'Customer erin@example.com added.');

  // Provisioning from the customer's page: a bad username is refused beside the field;
  // a double click on the good one still makes one account (one idempotency key).
  await page.click('text=Provision hosting now');
  await page.locator('#provision-form').waitFor();
  await page.fill('#provision-form-username', '9erin');
  await submit('provision-form');
  await page.locator('#provision-form-username[aria-invalid="true"]').waitFor();
  await page.fill('#provision-form-username', 'erin1');
  await page.dblclick('#provision-form button[type=submit]');
  await page.locator('#new-license').waitFor();
  const shown = {
    username: await page.textContent('#new-username'),
    password: await page.textContent('#new-password'),
    license: await page.textContent('#new-license'),
  };
  if (!/^NP-[A-Z0-9]{4}(-[A-Z0-9]{4}){3}$/.test(shown.license)) throw new Error(`license key ${shown.license}`);
  await seeText(page, 'Account erin1 is active');

  // Suspending it: the reason is asked for, and the state follows the panel.
  await page.click('text=Open the account');
  page.once('dialog', (d) => d.accept('abuse report #12'));
  await page.click('button:text("Suspend")');
  await seeText(page, 'Suspension sent to the panel.');
  await reloadUntil(page, 'button:text("Unsuspend")', 'the account never showed as suspended');
  await seeText(page, 'abuse report #12');

  // The panel agrees with us about the suspended account.
  await page.click('nav >> text=Servers');
  await page.click('main >> text=web1');
  await page.click('button:text-is("Compare")');
  await page.locator('#reconcile-result >> text=In agreement').waitFor();

  // The license, from the customer's page: extended by one period.
  await page.click('nav >> text=Customers');
  await page.click('main >> text=erin@example.com');
  await page.locator('main a.mono', { hasText: /^NP-/ }).click();
  await page.locator('main h1', { hasText: 'License NP-' }).waitFor();
  await page.click('button:text("Extend by one period")');
  await seeText(page, 'Extended by one monthly period.');

  // The team: a staff member and an API key (shown once).
  await page.click('nav >> text=Team');
  await page.fill('#user-form-email', 'sam@example.com');
  await page.fill('#user-form-full_name', 'Sam Staff');
  await page.fill('#user-form-password', 'sam-password-123');
  await page.click('#user-form button[type=submit]');
  await seeText(page, 'sam@example.com can now sign in as staff.');
  await page.fill('#key-form-name', 'monitoring');
  await page.click('#key-form button[type=submit]');
  shown.apiKey = await page.textContent('#api-key');

  // Signing out ends the session: the console goes back to the sign-in form.
  await page.click('#sign-out');
  await page.locator('#login-form').waitFor();
  await page.goto(`${base}/ui/#/servers`);
  await page.waitForURL(/#\/login\?next=/);
  await page.locator('#login-form').waitFor();

  console.log('RESULT ' + JSON.stringify(shown));
});
