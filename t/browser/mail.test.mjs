// t/browser/mail.test.mjs: a person with mail (seeded by t/browser/mail-seed through
// ingest_message) sees it listed in the inbox, loads older threads with htmx, opens a
// thread in the reading pane and on its own page, where the HTML body sits in a
// sandboxed frame; a body full of XSS runs nothing (no dialog, no console error, no CSP
// violation, no request to another origin); a search narrows the list and a bad one is
// explained next to the box; a thread moved to another category from its row's menu
// (htmx) shows its new chip and the navigation counts it there, and on a desktop the
// reading pane's menu moves it too. On a desktop and on a phone, with screenshots.
//
// Needs MAILROOM_TEST_MAIL_SEED (the mail-seed program) and DATABASE_URL (the stack's
// database), which ./contrib/dev test sets in its browser stage.

import { execFileSync } from 'node:child_process';

const PASSWORD = 'correct horse battery staple 42';

function uniqueEmail(tag) {
  return `${tag}-${process.pid}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.org`;
}

// Signs a new user up in the page and gives them mail; returns what the seed made.
async function userWithMail(ctx, page, tag) {
  const seeder = process.env.MAILROOM_TEST_MAIL_SEED;
  ctx.assert(seeder && process.env.DATABASE_URL,
    'MAILROOM_TEST_MAIL_SEED and DATABASE_URL are not set: run the browser stage of ./contrib/dev test');
  const email = uniqueEmail(tag);
  await page.goto(ctx.url('/signup'));
  await page.fill('#signup-email', email);
  await page.fill('#signup-display_name', 'Ada Lovelace');
  await page.fill('#signup-password', PASSWORD);
  await page.fill('#signup-time_zone', 'Europe/London');
  await Promise.all([page.waitForURL('**/inbox'), page.click('#sign-up')]);
  const out = execFileSync(seeder, [email], { env: process.env, encoding: 'utf8', timeout: 60000 });
  return JSON.parse(out);
}

// The count the category navigation shows for slug ("all": All mail).
async function navCount(page, slug) {
  return Number(await page.textContent(`#category-nav a[data-category="${slug}"] .nav-count`));
}

// Moves a thread with the menu inside scope (a row or the reading pane) and waits until
// the row of the thread shows the category's name.
async function recategorize(ctx, page, scope, thread, slug, name) {
  await page.click(`${scope} summary.recat-toggle`);
  await page.click(`${scope} .recat-menu button[name="category"][value="${slug}"]`);
  await page.waitForFunction(([sel, want]) => {
    const n = document.querySelector(sel);
    return n && n.textContent === want;
  }, [`#row-${thread} .recat-name`, name], { timeout: 10000 });
  await ctx.htmxIdle(page);
}

async function rowIds(page) {
  return page.$$eval('#thread-rows a[data-thread]', (as) => as.map((a) => a.getAttribute('data-thread')));
}

// The frame of the message body: sandboxed with no rights, loaded from /messages/N/body,
// showing the mail's text and nothing active.
async function checkBodyFrame(ctx, page, seed) {
  const sel = `iframe[src="/messages/${seed.xss.message}/body"]`;
  await page.waitForSelector(sel, { timeout: 10000 });
  const sandbox = await page.getAttribute(sel, 'sandbox');
  ctx.assert(sandbox === 'allow-popups allow-popups-to-escape-sandbox',
    `the frame's sandbox is ${JSON.stringify(sandbox)}, not only popups for its links`);
  const handle = await page.$(sel);
  const frame = await handle.contentFrame();
  ctx.assert(frame, 'no frame');
  await frame.waitForSelector('#xss-text, p', { timeout: 10000 }).catch(() => {});
  await page.waitForTimeout(300);
  const html = await frame.content();
  ctx.assert(html.includes('You won a prize'), 'the body text is not in the frame');
  ctx.assert(!/<script|onerror|onload|javascript:|<iframe|<form|<svg|<math/i.test(html),
    'something active reached the frame');
  ctx.assert(html.includes('mr-blocked-image'), 'the remote image is not held back');
  // The frame is its own opaque origin: the page cannot reach into it, nor it into us.
  const origin = await frame.evaluate(() => window.origin).catch(() => 'no script');
  ctx.assert(origin === 'no script' || origin === 'null', `the frame's origin is ${origin}`);
}

async function flow(ctx, vp) {
  const opened = await ctx.open('/signup', { viewport: ctx.viewports[vp] });
  const { page } = opened;
  const seed = await userWithMail(ctx, page, `mail-${vp}`);

  // The inbox lists the newest 50 threads; the XSS subject is text.
  await page.goto(ctx.url('/inbox'));
  let ids = await rowIds(page);
  ctx.assert(ids.length === 50, `${ids.length} threads on the first page`);
  ctx.assert(ids[0] === String(seed.xss.thread), 'the newest thread is not first');
  const xssRow = `#thread-rows a[data-thread="${seed.xss.thread}"]`;
  ctx.assert((await page.textContent(xssRow)).includes("Prize <img src=x onerror=alert('subject')>")
    && !(await page.$(`${xssRow} img`)), 'the subject is not shown as text');
  ctx.assert(await page.isVisible('#thread-rows >> text=Engine plans'), 'a seeded thread is missing');
  await ctx.screenshot(page, `mail-inbox-${vp}`);

  // "Older" appends the rest in place (htmx), each thread once.
  await page.click('#load-more a');
  await page.waitForFunction(() => document.querySelectorAll('#thread-rows a[data-thread]').length > 50,
    null, { timeout: 10000 });
  await ctx.htmxIdle(page);
  ids = await rowIds(page);
  ctx.assert(ids.length === seed.threads, `${ids.length} threads after "Older", expected ${seed.threads}`);
  ctx.assert(new Set(ids).size === ids.length, 'a thread is listed twice');
  ctx.assert(!(await page.$('#load-more')), 'an "Older" link after the last page');

  // One click moves a thread to a category: its chip and the navigation's counts change
  // in place, the list stays where it was.
  const fyi = await navCount(page, 'fyi');
  const all = await navCount(page, 'all');
  ctx.assert(all === seed.threads, `All mail counts ${all}, the seed made ${seed.threads}`);
  await recategorize(ctx, page, `#row-${seed.pair.thread}`, seed.pair.thread, 'fyi', 'FYI');
  ctx.assert(await navCount(page, 'fyi') === fyi + 1, 'FYI does not count the moved thread');
  ctx.assert(await navCount(page, 'all') === all, 'All mail changed its count');
  ctx.assert((await rowIds(page)).length === seed.threads, 'the loaded rows were lost');
  ctx.assert(page.url().endsWith('/inbox'), `the address changed to ${page.url()}`);
  await ctx.screenshot(page, `mail-recategorized-${vp}`);

  if (vp === 'desktop') {
    // The reading pane: the thread replaces it, the body in its sandboxed frame.
    await page.click(`#thread-rows a[data-thread="${seed.xss.thread}"]`);
    await page.waitForSelector('#reading-pane article.message', { timeout: 10000 });
    await ctx.htmxIdle(page);
    ctx.assert(page.url().endsWith('/inbox'), `the address changed to ${page.url()}`);
    await checkBodyFrame(ctx, page, seed);
    await ctx.screenshot(page, `mail-reading-pane-${vp}`);
    // Its own menu moves it: the pane, its row and the navigation follow.
    const notif = await navCount(page, 'notification');
    await recategorize(ctx, page, '#thread-category', seed.xss.thread, 'notification', 'Notification');
    ctx.assert((await page.textContent('#thread-category .recat-name')) === 'Notification',
      'the pane does not show the new category');
    ctx.assert(await navCount(page, 'notification') === notif + 1, 'Notification does not count it');
    await page.click('#reading-pane details.why summary').catch(() => {});
    await ctx.screenshot(page, `mail-pane-recategorized-${vp}`);
  }

  // The thread's own page.
  await page.goto(ctx.url(`/threads/${seed.xss.thread}`));
  await checkBodyFrame(ctx, page, seed);
  ctx.assert(await page.isVisible('text=You won (text).') || await page.isVisible('summary:has-text("Text version")'),
    'the text version is offered');
  await ctx.screenshot(page, `mail-thread-${vp}`);
  await page.goto(ctx.url(`/threads/${seed.pair.thread}`));
  ctx.assert((await page.$$('article.message')).length === 2, 'the two-message thread');
  ctx.assert(await page.isVisible('text=Then send your head.'), 'a text body is shown');

  // Search from the box, and a bad search explained beside it.
  await page.goto(ctx.url('/inbox'));
  await page.fill('#inbox-q', 'from:charles');
  await Promise.all([page.waitForURL('**/inbox?*q=from*'), page.click('#inbox-search')]);
  ids = await rowIds(page);
  ctx.assert(ids.length === 1 && ids[0] === String(seed.pair.thread), `from:charles gave ${ids}`);
  await page.fill('#inbox-q', 'before:2026-02-31');
  await Promise.all([page.waitForURL('**/inbox?*q=before*'), page.click('#inbox-search')]);
  await page.waitForSelector('#inbox-q-error');
  ctx.assert((await page.textContent('#inbox-q-error')).includes('before: expects a date like 2026-01-31.'),
    'the parse error is not next to the box');
  ctx.assert((await page.getAttribute('#inbox-q', 'aria-invalid')) === 'true', 'the box is not marked invalid');
  await ctx.screenshot(page, `mail-search-error-${vp}`);

  // The bad search answers 400, which Chromium reports for the document. The harness's
  // own service-worker blocker, injected into every frame, throws inside the sandboxed
  // one (which is what a sandbox without allow-same-origin does): that is not the page's.
  const problems = ctx.problems(opened, {
    ignoreConsole: [/status of 400 \(Bad Request\) \(http:[^ ]*\/inbox\?[^ ]*:0\)$/],
  }).filter((line) => !/^page error: SecurityError: Failed to read the 'serviceWorker' property from 'Navigator': Service worker is disabled because the context is sandboxed and lacks the 'allow-same-origin' flag\.\n\s+at <anonymous>:\d+:\d+\n\s+at <anonymous>:\d+:\d+$/.test(line));
  ctx.assert(problems.length === 0, `${opened.url}:\n${problems.join('\n')}`);
}

export const tests = [
  { name: 'mail list, thread, sandboxed body, search on desktop', run: (ctx) => flow(ctx, 'desktop'), timeout: 90000 },
  { name: 'mail list, thread, sandboxed body, search on phone', run: (ctx) => flow(ctx, 'phone'), timeout: 90000 },
];
