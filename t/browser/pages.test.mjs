// t/browser/pages.test.mjs: every page loads with no console error, no page error and
// no Content-Security-Policy violation, on a desktop and on a phone, and leaves a
// screenshot of each (page-<path>-<viewport>.png in the output directory).
//
// Pages of a signed-in user are in accounts.test.mjs.
//
// To add a page, add one line to PAGES: its path, or { path, status } for a page that
// answers with another status than 200.

const PAGES = [
  '/',
  '/login',
  '/signup',
  '/reset',
  { path: '/reset?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', status: 410 },
  { path: '/nope', status: 404 },
  '/healthz',
];

const VIEWPORTS = ['desktop', 'phone'];

function label(p) {
  return p.replace(/^\/+|\/+$/g, '').replace(/[^A-Za-z0-9]+/g, '-') || 'start';
}

export const tests = PAGES.flatMap((entry) => {
  const { path, status = 200 } = typeof entry === 'string' ? { path: entry } : entry;
  return VIEWPORTS.map((vp) => ({
    name: `${path} on ${vp}${status !== 200 ? ` (${status})` : ''}`,
    async run(ctx) {
      const opened = await ctx.open(path, { viewport: ctx.viewports[vp], status });
      await ctx.screenshot(opened.page, `page-${label(path)}-${vp}`);
      ctx.expectClean(opened);
    },
  }));
});
