// t/browser/assets.test.mjs: the committed assets (templates/static, named by
// manifest.json) work together under the application's own Content-Security-Policy:
// the stylesheet applies, htmx swaps an answer of the stack in and sends the CSRF
// header, Alpine's CSP build runs the components of app.js, and nothing is refused.
// nginx serves the hashed files as immutable and refuses manifest.json.
//
// The page is made here, with the policy the stack sends on "/", and served at a path
// of the stack's origin, so that /static/ comes from the stack's nginx. Its screenshots
// (assets-<viewport>.png) show every component class of app.css.

import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const MANIFEST = path.resolve(HERE, '../../templates/static/manifest.json');

const CATEGORIES = [
  ['to-respond', 'To respond'], ['fyi', 'FYI'], ['comment', 'Comment'], ['notification', 'Notification'],
  ['meeting-update', 'Meeting update'], ['awaiting-reply', 'Awaiting reply'], ['actioned', 'Actioned'],
  ['marketing', 'Marketing'],
];

function page(m) {
  const chips = CATEGORIES.map(([slug, text]) => `<span class="chip chip-${slug}">${text}</span>`).join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="test-token-123">
<title>assets</title>
<link rel="stylesheet" href="/static/${m['css/app.css']}">
<script defer src="/static/${m['js/htmx.js']}"></script>
<script defer src="/static/${m['js/app.js']}"></script>
<script defer src="/static/${m['js/alpine.js']}"></script>
</head>
<body>
<a class="skip-link" href="#main">Skip to content</a>
<main id="main" class="card">
<h1>Components</h1>
<div x-data="toggle">
  <button type="button" id="menu" class="btn btn-primary" @click="toggle" :aria-expanded="open">Menu</button>
  <button type="button" class="btn btn-secondary">Secondary</button>
  <button type="button" class="btn btn-danger">Delete</button>
  <button type="button" class="btn btn-ghost">Ghost</button>
  <button type="button" class="btn btn-secondary btn-sm" disabled>Disabled</button>
  <p id="panel" x-show="open" x-cloak>The panel is open.</p>
  <p id="closed" x-show="!open">The panel is closed.</p>
  <p id="cls" :class="open &amp;&amp; 'is-open'">Class follows the panel.</p>
</div>
<div id="flash" class="flash flash-success" x-data="flash" x-show="visible" role="status">
  <span>Saved.</span>
  <button type="button" id="flash-close" class="flash-close" @click="dismiss" aria-label="Dismiss">&#x2715;</button>
</div>
<div class="flash flash-error" role="alert"><span>Something went wrong.</span></div>
<div class="flash flash-warning"><span>Careful.</span></div>
<div class="flash flash-info"><span>For your information.</span></div>
<p>${chips}
<span class="chip chip-custom">Custom</span> <span class="chip" data-category="fyi">FYI by attribute</span></p>
<form action="/__assets-form" method="post">
  <div class="field">
    <label class="label" for="email">Email</label>
    <input id="email" name="email" class="input" type="email" aria-invalid="true" aria-describedby="email-error" value="not an address">
    <p id="email-error" class="field-error">Enter an email address.</p>
  </div>
  <div class="field">
    <label class="label" for="name">Name</label>
    <input id="name" name="name" class="input" aria-describedby="name-hint">
    <p id="name-hint" class="field-hint">As your contacts know you.</p>
  </div>
  <label><input type="checkbox" class="checkbox" checked> Remember me</label>
</form>
<p>
  <button type="button" id="hx-get" class="btn btn-secondary" hx-get="/healthz" hx-target="#out">Load /healthz</button>
  <button type="button" id="hx-post" class="btn btn-secondary" hx-post="/__assets-post" hx-target="#out">Post</button>
  <span class="htmx-indicator spinner" aria-hidden="true"></span>
  <kbd>j</kbd> <code>code</code>
</p>
<pre id="out"></pre>
</main>
</body>
</html>`;
}

async function manifest() {
  return JSON.parse(await fs.readFile(MANIFEST, 'utf8'));
}

// The policy the stack really sends.
async function stackCsp(ctx) {
  const res = await fetch(ctx.url('/'));
  const csp = res.headers.get('content-security-policy');
  ctx.assert(csp, 'GET / has no Content-Security-Policy header');
  ctx.assert(!/unsafe-inline|unsafe-eval/.test(csp.match(/script-src[^;]*/)?.[0] || ''),
    `script-src allows unsafe-inline or unsafe-eval: ${csp}`);
  return csp;
}

async function exercise(ctx, viewport, colorScheme = 'light') {
  const m = await manifest();
  const csp = await stackCsp(ctx);
  const opened = await ctx.open('/__assets-test', {
    viewport: ctx.viewports[viewport],
    colorScheme,
    content: page(m),
    headers: { 'Content-Security-Policy': csp },
  });
  const p = opened.page;
  const posted = [];
  await p.route('**/__assets-post', (route) => {
    posted.push(route.request().headers()['x-csrf-token'] || '(none)');
    return route.fulfill({ status: 200, contentType: 'text/html', body: '<b id="posted">posted</b>' });
  });

  await p.waitForFunction(() => window.htmx && window.Alpine && document.querySelector('#menu[aria-expanded]'));
  ctx.assert(await p.evaluate(() => document.querySelectorAll('style').length === 0),
    'an inline <style> was added (htmx indicator styles?)');
  const bg = await p.$eval('#menu', (el) => getComputedStyle(el).backgroundColor);
  ctx.assert(bg !== 'rgba(0, 0, 0, 0)' && bg !== 'transparent', `.btn-primary has no background (${bg}): stylesheet not applied?`);

  // Alpine: the toggle component, negation and class binding of the CSP build.
  ctx.assert(await p.isHidden('#panel'), 'x-show: the panel is visible before the click');
  ctx.assert(await p.isVisible('#closed'), 'x-show="!open": hidden while closed');
  await p.click('#menu');
  await p.waitForSelector('#panel', { state: 'visible', timeout: 5000 });
  ctx.assert((await p.getAttribute('#menu', 'aria-expanded')) === 'true', ':aria-expanded did not follow open');
  ctx.assert(await p.isHidden('#closed'), 'x-show="!open": visible while open');
  ctx.assert(await p.$eval('#cls', (el) => el.classList.contains('is-open')), ":class=\"open && 'is-open'\" did not apply");
  await p.click('#menu');
  await p.waitForSelector('#panel', { state: 'hidden', timeout: 5000 });

  if (viewport === 'desktop' && colorScheme === 'light') {
    // htmx: a GET swapped in from the stack, a POST with the CSRF header.
    await p.click('#hx-get');
    await p.waitForFunction(() => document.querySelector('#out').textContent.includes('"status"'), null, { timeout: 10000 });
    await p.click('#hx-post');
    await p.waitForSelector('#posted', { timeout: 10000 });
    ctx.assert(posted.length === 1 && posted[0] === 'test-token-123', `POST carried X-CSRF-Token ${posted.join(',') || '(no request)'}`);
    await ctx.htmxIdle(p);
  }

  await ctx.screenshot(p, `assets-${viewport}${colorScheme === 'dark' ? '-dark' : ''}`);
  // The flash message goes away when dismissed.
  await p.click('#flash-close');
  await p.waitForSelector('#flash', { state: 'hidden', timeout: 5000 });
  ctx.expectClean(opened);
}

export const tests = [
  {
    name: 'nginx serves hashed files immutable, refuses manifest.json',
    async run(ctx) {
      const m = await manifest();
      for (const file of Object.values(m)) {
        const res = await fetch(ctx.url(`/static/${file}`));
        ctx.assert(res.status === 200, `/static/${file}: status ${res.status}`);
        const cc = res.headers.get('cache-control') || '';
        ctx.assert(/max-age=31536000/.test(cc) && /immutable/.test(cc), `/static/${file}: Cache-Control "${cc}"`);
        ctx.assert(res.headers.get('x-content-type-options') === 'nosniff', `/static/${file}: no nosniff`);
      }
      const res = await fetch(ctx.url('/static/manifest.json'));
      ctx.assert(res.status === 403 || res.status === 404, `/static/manifest.json: status ${res.status}, expected 403`);
      const missing = await fetch(ctx.url('/static/css/app.00000000.css'));
      ctx.assert(missing.status === 404, `a missing hashed file: status ${missing.status}`);
      ctx.assert(!/immutable/.test(missing.headers.get('cache-control') || ''), 'a missing hashed file is cached as immutable');
    },
  },
  { name: 'components under the CSP on desktop', run: (ctx) => exercise(ctx, 'desktop') },
  { name: 'components under the CSP on phone', run: (ctx) => exercise(ctx, 'phone') },
  { name: 'components under the CSP in dark mode', run: (ctx) => exercise(ctx, 'desktop', 'dark') },
];
