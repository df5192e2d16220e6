// t/browser/accounts.test.mjs: a person signs up through the form, lands in the inbox,
// switches categories (an htmx partial update), opens the settings and the activity
// pages, sees field errors next to their fields, and signs out through the user menu;
// on a desktop and on a phone, with no console error and no CSP violation anywhere, and
// a screenshot of each page.

const PASSWORD = 'correct horse battery staple 42';

function uniqueEmail(tag) {
  return `${tag}-${process.pid}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.org`;
}

async function signUp(ctx, page, email) {
  await page.goto(ctx.url('/signup'));
  await page.fill('#signup-email', email);
  await page.fill('#signup-display_name', 'Ada Lovelace');
  await page.fill('#signup-password', PASSWORD);
  await page.fill('#signup-time_zone', 'Europe/London');
  await Promise.all([page.waitForURL('**/inbox'), page.click('#sign-up')]);
}

async function flow(ctx, vp) {
  const opened = await ctx.open('/signup', { viewport: ctx.viewports[vp] });
  const { page } = opened;
  const tag = `flow-${vp}`;

  // A field error shows next to its field, tied to it for screen readers.
  await page.fill('#signup-email', uniqueEmail(tag));
  await page.fill('#signup-display_name', 'Ada Lovelace');
  await page.fill('#signup-password', 'short');
  await page.click('#sign-up');
  await page.waitForSelector('#signup-password-error');
  ctx.assert((await page.getAttribute('#signup-password', 'aria-invalid')) === 'true',
    'the password field is not marked invalid');
  const describedBy = (await page.getAttribute('#signup-password', 'aria-describedby')) || '';
  ctx.assert(describedBy.split(' ').includes('signup-password-error'),
    `aria-describedby "${describedBy}" does not name the error`);
  await ctx.screenshot(page, `signup-errors-${vp}`);

  await signUp(ctx, page, uniqueEmail(tag));
  ctx.assert(await page.isVisible('text=Your account is ready.'), 'no welcome message');
  await ctx.screenshot(page, `inbox-${vp}`);

  // htmx: a category swaps the message list in place and the address follows.
  await page.click('nav[aria-label="Categories"] a[href="/inbox?category=fyi"]');
  await page.waitForFunction(() => document.querySelector('#message-list h1')?.textContent.trim() === 'FYI', null, { timeout: 10000 });
  await ctx.htmxIdle(page);
  ctx.assert(page.url().endsWith('/inbox?category=fyi'), `the address is ${page.url()}`);

  for (const [path, name] of [['/settings', 'settings'], ['/settings/activity', 'activity']]) {
    const res = await page.goto(ctx.url(path));
    ctx.assert(res.status() === 200, `${path}: status ${res.status()}`);
    await ctx.screenshot(page, `${name}-${vp}`);
  }
  ctx.assert(await page.isVisible('text=Account created'), 'the activity page lacks the sign-up');

  // A wrong current password is shown at its field on the settings page.
  await page.goto(ctx.url('/settings'));
  await page.fill('#password-current_password', 'not my password at all');
  await page.fill('#password-new_password', 'another long passphrase 7');
  await page.click('#change-password');
  await page.waitForSelector('#password-current_password-error');
  await ctx.screenshot(page, `settings-errors-${vp}`);

  // Sign out through the user menu.
  await page.click('#user-menu-button');
  await page.waitForSelector('#sign-out', { state: 'visible' });
  await Promise.all([page.waitForURL('**/login'), page.click('#sign-out')]);
  ctx.assert(await page.isVisible('text=You have been signed out.'), 'no signed-out message');
  const back = await page.goto(ctx.url('/inbox'));
  ctx.assert(new URL(back.url()).pathname === '/login', `/inbox after sign-out went to ${back.url()}`);
  // The two forms sent with errors on purpose answer 400, which Chromium reports.
  ctx.expectClean(opened, {
    ignoreConsole: [/status of 400 \(Bad Request\) \(http:[^ ]*\/(signup|settings\/password):0\)$/],
  });
}

export const tests = [
  { name: 'sign up, inbox, settings, sign out on desktop', run: (ctx) => flow(ctx, 'desktop') },
  { name: 'sign up, inbox, settings, sign out on phone', run: (ctx) => flow(ctx, 'phone') },
];
