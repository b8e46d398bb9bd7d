// Shared harness of the browser tests: Debian chromium driven by playwright-core.
//
// A test is a script that calls `run(name, async ({ page, base }) => { ... })`; the Rust
// side (tests/api/browser.rs) starts the app and runs it with BASE_URL set. The script
// exits 0 when the body finished and the page logged no errors, 1 otherwise.

import { chromium } from 'playwright-core';

/** Default timeout of every page action and wait, in milliseconds. */
const TIMEOUT_MS = 15_000;

/**
 * Launches chromium and opens a page. Every console error and uncaught page error is
 * collected in `errors`. `base` is the app's URL without a trailing slash.
 */
export async function session() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'],
  });
  const context = await browser.newContext();
  context.setDefaultTimeout(TIMEOUT_MS);
  const page = await context.newPage();
  const errors = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') {
      const { url, lineNumber } = msg.location();
      // Chromium logs every 4xx answer of the API as an error; the console shows refusals
      // (a wrong password, a field error) on purpose and the scripts check how it does.
      // 5xx answers, missing files and script errors stay errors.
      const refusal = /^Failed to load resource: the server responded with a status of 4\d\d/.test(msg.text());
      if (refusal && url && new URL(url).pathname.startsWith('/api/')) return;
      errors.push(`console error: ${msg.text()}${url ? ` (${url}:${lineNumber})` : ''}`);
    }
  });
  page.on('pageerror', (err) => errors.push(`page error: ${err.stack || err.message}`));
  return { browser, page, base: process.env.BASE_URL, errors };
}

/**
 * Runs one test: `body` gets the session. On failure prints the error and the page URL,
 * saves a full-page screenshot and exits 1; a page that logged errors fails too.
 */
export async function run(name, body) {
  let s;
  let code = 0;
  try {
    s = await session();
    await body(s);
    if (s.errors.length > 0) {
      console.error(`FAILED ${name}: the page logged ${s.errors.length} error(s):`);
      for (const e of s.errors) console.error(`  ${e}`);
      code = 1;
    }
  } catch (err) {
    code = 1;
    console.error(`FAILED ${name}: ${err && err.stack ? err.stack : err}`);
    if (s) {
      console.error(`page URL: ${s.page.url()}`);
      if (s.errors.length > 0) {
        console.error('the page also logged:');
        for (const e of s.errors) console.error(`  ${e}`);
      }
      const path = `${process.env.SCREENSHOT_DIR || '/tmp'}/${name}-failure.png`;
      try {
        await s.page.screenshot({ path, fullPage: true });
        console.error(`screenshot: ${path}`);
      } catch (shotErr) {
        console.error(`no screenshot (${shotErr.message})`);
      }
    }
  } finally {
    if (s) await s.browser.close().catch(() => {});
  }
  if (code === 0) console.log(`ok ${name}`);
  process.exit(code);
}

/** Waits (default timeout) until `text` is visible somewhere in the page. */
export async function seeText(page, text) {
  try {
    await page.getByText(text, { exact: false }).first().waitFor();
  } catch (err) {
    throw new Error(`expected to see the text ${JSON.stringify(text)} on ${page.url()}: ${err.message}`);
  }
}

/**
 * Reloads the page until `selector` is on it (for state that changes in the
 * background, like a job finishing), waiting for each load's view to be drawn.
 */
export async function reloadUntil(page, selector, what, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await page.reload();
    await page.locator('main h1').waitFor();
    if (await page.locator(selector).count()) return;
    if (Date.now() > deadline) throw new Error(`${what}: ${selector} never appeared on ${page.url()}`);
    await page.waitForTimeout(250);
  }
}
