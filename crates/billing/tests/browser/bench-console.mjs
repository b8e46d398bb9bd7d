// Console benchmark (run by `cargo bench -p nextpanel-bill --bench console`, not a test):
// how long the web console takes to show its pages against a seeded server, in
// headless chromium on this machine. Prints one JSON line.

import { session } from './lib.mjs';

const rounds = Number(process.env.ROUNDS || 20);
const views = ['/dashboard', '/accounts', '/customers', '/invoices', '/jobs'];
const { browser, page, base, errors } = await session();

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

try {
  // What the page loaded, from the browser's own resource timing: files of the console
  // (and their bytes on the wire: a revalidated file is headers only) and API calls.
  const loaded = () => page.evaluate(() => {
    const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
    const files = entries.filter((e) => !new URL(e.name).pathname.startsWith('/api/'));
    return {
      files: files.length,
      bytes: files.reduce((n, e) => n + e.transferSize, 0),
      api: entries.length - files.length,
    };
  });

  // Cold: an empty cache, every file fetched, until the sign-in form is drawn.
  const cold = Date.now();
  await page.goto(`${base}/ui/`);
  await page.locator('#login-form').waitFor();
  const coldMs = Date.now() - cold;
  const coldLoad = await loaded();
  await page.fill('#login-form-email', 'admin@example.com');
  await page.fill('#login-form-password', process.env.ADMIN_PASSWORD);
  await page.click('#login-form button[type=submit]');
  await page.waitForFunction(() => document.getElementById('main').dataset.view === '/dashboard');

  // Warm reload: files revalidated (304s), the dashboard drawn again with the session.
  const warm = Date.now();
  await page.reload();
  await page.waitForFunction(() => document.getElementById('main').dataset.view === '/dashboard');
  const warmMs = Date.now() - warm;
  const warmLoad = await loaded();

  // Cold again as a remote admin sees it: every request 50 ms away (chromium's network
  // emulation), in a fresh context with an empty cache.
  const remote = await browser.newContext();
  const remotePage = await remote.newPage();
  const cdp = await remote.newCDPSession(remotePage);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 50, downloadThroughput: -1, uploadThroughput: -1 });
  const far = Date.now();
  await remotePage.goto(`${base}/ui/`);
  await remotePage.locator('#login-form').waitFor();
  const coldRemoteMs = Date.now() - far;
  await remote.close();

  // Navigation: from the hash change to the view drawn with its data, measured in the page.
  const samples = Object.fromEntries(views.map((v) => [v, []]));
  for (let i = 0; i < rounds; i++) {
    for (const view of views) {
      const ms = await page.evaluate((view) => new Promise((resolve) => {
        const start = performance.now();
        location.hash = '#' + view;
        const check = () => {
          if (document.getElementById('main').dataset.view === view) resolve(performance.now() - start);
          else requestAnimationFrame(check);
        };
        requestAnimationFrame(check);
      }), view);
      samples[view].push(ms);
    }
  }
  const navigation = {};
  for (const [view, list] of Object.entries(samples)) {
    list.sort((a, b) => a - b);
    navigation[view] = { p50: Math.round(percentile(list, 50)), p95: Math.round(percentile(list, 95)) };
  }
  if (errors.length) throw new Error(errors.join('\n'));
  console.log(JSON.stringify({ coldMs, coldRemoteMs, coldLoad, warmMs, warmLoad, navigation }));
} finally {
  await browser.close();
}
