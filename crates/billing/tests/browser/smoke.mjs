// The web UI answers at /ui/ with its login form.
import { run } from './lib.mjs';

run('smoke', async ({ page, base }) => {
  await page.goto(base + '/ui/');
  await page.locator('#login-form').waitFor();
  const title = await page.title();
  if (!title.includes('nextpanel-bill')) throw new Error(`title ${JSON.stringify(title)} lacks nextpanel-bill`);
});
