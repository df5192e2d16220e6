#!/usr/bin/env node
// t/browser/run.mjs: runs the browser tests, t/browser/*.test.mjs, in headless Chromium
// (Debian's /usr/bin/chromium, driven by playwright-core) against a running mailroom.
//
//   MAILROOM_TEST_URL=http://127.0.0.1:8080 node t/browser/run.mjs [PATTERN...]
//
// MAILROOM_TEST_URL     the stack to test (default http://127.0.0.1:8080, the dev stack)
// MAILROOM_BROWSER_OUT  where screenshots go (default var/test-logs/browser)
// MAILROOM_CHROMIUM     the browser (default /usr/bin/chromium)
// PATTERN               run only the tests whose "file: name" contains one of them
//
// A test file exports `tests`, a list of { name, run(ctx), timeout? } (timeout in ms,
// default 60000). run() throws to fail; ctx.skip(reason) skips. ctx offers:
//   ctx.url(path)                  absolute URL of a path of the stack
//   ctx.viewports                  { desktop: 1280x800, phone: 390x844 (touch, 2x) }
//   ctx.open(path, options)        a page in a fresh browser context (closed after the
//                                  test) with problem collectors, loaded and settled;
//                                  returns { page, context, response, url, report }.
//                                  options: viewport (ctx.viewports.phone or
//                                  { width, height, isMobile, hasTouch,
//                                  deviceScaleFactor }; default desktop), status
//                                  (expected; default 200), colorScheme, bypassCSP,
//                                  initScripts (strings run before the page's scripts),
//                                  settle (ms to wait after load; default 150),
//                                  bindings ({ name: fn(frame, ...args) }, callable
//                                  from the page as window[name]), content + headers
//                                  (serve that HTML at the path instead of the stack's
//                                  answer, for tests of the harness itself)
//   ctx.problems(opened, options)  what went wrong so far, as lines: console errors,
//                                  page errors, CSP violations (securitypolicyviolation
//                                  events and "Refused to ..." console messages), dialogs,
//                                  requests to other origins (aborted), wrong status;
//                                  options.ignoreConsole: a list of RegExps
//   ctx.expectClean(opened, opts)  throws the problems, if any
//   ctx.screenshot(page, name?)    full-page PNG into the output directory as
//                                  <name>.png (default: the test's name, made file-safe)
//   ctx.htmxIdle(page)             waits until no htmx request is in flight
//   ctx.assert(cond, message), ctx.log(message), ctx.skip(reason)
// Prints one line per test and ends with "N passed, N failed, N skipped"; exits 1
// when a test failed.

import { chromium } from 'playwright-core';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const BASE_URL = (process.env.MAILROOM_TEST_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const OUT_DIR = path.resolve(process.env.MAILROOM_BROWSER_OUT || path.join(ROOT, 'var/test-logs/browser'));
const CHROMIUM = process.env.MAILROOM_CHROMIUM || '/usr/bin/chromium';
const DEFAULT_TIMEOUT = 60000;

// Flags for a closed network: no component updates, sync or other background fetches
// (they would fail and retry). Playwright adds a fresh temporary --user-data-dir of its
// own to every launch and removes it on close.
const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const VIEWPORTS = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
};

// Reports every securitypolicyviolation of every frame to the harness.
const CSP_LISTENER = `(() => {
  const report = (e) => {
    try {
      window.__mailroomCsp({
        directive: e.effectiveDirective || e.violatedDirective,
        blocked: e.blockedURI,
        source: e.sourceFile,
        line: e.lineNumber,
        sample: e.sample,
      });
    } catch (err) { /* the binding is gone while the page unloads */ }
  };
  document.addEventListener('securitypolicyviolation', report, true);
})();`;

class Skip extends Error {}

function slug(name) {
  return String(name).replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'test';
}

function describeCsp(v) {
  let s = `${v.directive || '?'} blocked ${v.blocked || '(inline)'}`;
  if (v.source) s += ` at ${v.source}${v.line ? `:${v.line}` : ''}`;
  if (v.sample) s += ` (${String(v.sample).slice(0, 80)})`;
  return s;
}

class Context {
  constructor(browser, test) {
    this.browser = browser;
    this.test = test;
    this.baseURL = BASE_URL;
    this.outDir = OUT_DIR;
    this.viewports = VIEWPORTS;
    this.contexts = [];
    this.notes = [];
  }

  url(p) {
    return new URL(p, `${BASE_URL}/`).href;
  }

  log(message) {
    this.notes.push(String(message));
  }

  skip(reason) {
    throw new Skip(reason);
  }

  assert(cond, message) {
    if (!cond) throw new Error(message || 'assertion failed');
  }

  async open(p, options = {}) {
    const viewport = options.viewport || VIEWPORTS.desktop;
    const url = this.url(p);
    const origin = new URL(url).origin;
    const context = await this.browser.newContext({
      viewport: { width: viewport.width, height: viewport.height },
      deviceScaleFactor: viewport.deviceScaleFactor || 1,
      isMobile: !!viewport.isMobile,
      hasTouch: !!viewport.hasTouch,
      bypassCSP: !!options.bypassCSP,
      colorScheme: options.colorScheme || 'light',
      reducedMotion: 'reduce',
      locale: 'en-US',
      timezoneId: 'UTC',
      serviceWorkers: 'block',
    });
    this.contexts.push(context);
    const report = {
      expectedStatus: options.status ?? 200,
      status: null,
      consoleErrors: [],
      pageErrors: [],
      csp: [],
      dialogs: [],
      foreignRequests: [],
    };
    await context.exposeBinding('__mailroomCsp', (_source, v) => report.csp.push(describeCsp(v || {})));
    for (const [name, fn] of Object.entries(options.bindings || {})) {
      await context.exposeBinding(name, (source, ...args) => fn(source.frame, ...args));
    }
    await context.addInitScript(CSP_LISTENER);
    for (const script of options.initScripts || []) await context.addInitScript(script);
    // Nothing leaves the machine: requests to any other origin are recorded and aborted.
    await context.route('**/*', (route) => {
      const target = route.request().url();
      if (options.content !== undefined && target === url) {
        return route.fulfill({
          status: report.expectedStatus,
          contentType: 'text/html; charset=utf-8',
          headers: options.headers || {},
          body: options.content,
        });
      }
      if (/^(data|blob|about):/.test(target) || new URL(target).origin === origin) {
        return route.continue();
      }
      report.foreignRequests.push(target);
      return route.abort('blockedbyclient');
    });

    const page = await context.newPage();
    page.on('console', (msg) => {
      const type = msg.type();
      if (type !== 'error' && !msg.text().startsWith('Refused to')) return;
      const text = msg.text();
      if (text.startsWith('Refused to')) {
        report.csp.push(text);
        return;
      }
      // The document's own status, when it is the expected one (a 404 page).
      const loc = msg.location();
      const m = /the server responded with a status of (\d+)/.exec(text);
      if (m && loc && loc.url === url && Number(m[1]) === report.expectedStatus) return;
      report.consoleErrors.push(`${text}${loc && loc.url ? ` (${loc.url}:${loc.lineNumber})` : ''}`);
    });
    page.on('pageerror', (err) => report.pageErrors.push(String(err && err.stack ? err.stack : err)));
    page.on('dialog', (dialog) => {
      report.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
      dialog.dismiss().catch(() => {});
    });

    const response = await page.goto(url, { waitUntil: 'load', timeout: options.timeout || 30000 });
    report.status = response ? response.status() : null;
    await page.waitForLoadState('networkidle', { timeout: 5000 }).catch(() => {});
    await page.waitForTimeout(options.settle ?? 150);
    return { page, context, response, url, report };
  }

  problems(opened, options = {}) {
    const r = opened.report;
    const ignore = options.ignoreConsole || [];
    const lines = [];
    if (r.status !== r.expectedStatus) lines.push(`status ${r.status}, expected ${r.expectedStatus}`);
    for (const e of r.consoleErrors) if (!ignore.some((re) => re.test(e))) lines.push(`console error: ${e}`);
    for (const e of r.pageErrors) lines.push(`page error: ${e}`);
    for (const e of r.csp) lines.push(`CSP violation: ${e}`);
    for (const e of r.dialogs) lines.push(`dialog opened: ${e}`);
    for (const e of r.foreignRequests) lines.push(`request to another origin (aborted): ${e}`);
    return lines;
  }

  expectClean(opened, options = {}) {
    const lines = this.problems(opened, options);
    if (lines.length > 0) throw new Error(`${opened.url}:\n${lines.join('\n')}`);
  }

  async screenshot(page, name) {
    await fs.mkdir(OUT_DIR, { recursive: true });
    const file = path.join(OUT_DIR, `${slug(name || this.test.name)}.png`);
    // A page of hundreds of vectors on a busy machine can take longer than the default
    // 30 s to capture; the picture is evidence, not the test, but it must not time out.
    await page.screenshot({ path: file, fullPage: true, animations: 'disabled', timeout: 100000 });
    return file;
  }

  async htmxIdle(page, timeout = 10000) {
    await page.waitForFunction(() => !document.querySelector('.htmx-request'), null, { timeout });
  }

  async close() {
    for (const c of this.contexts) await c.close().catch(() => {});
    this.contexts = [];
  }
}

async function loadTests(patterns) {
  const files = (await fs.readdir(HERE)).filter((f) => f.endsWith('.test.mjs')).sort();
  const all = [];
  const seen = new Set();
  for (const file of files) {
    const mod = await import(pathToFileURL(path.join(HERE, file)).href);
    const list = mod.tests || mod.default;
    const label = file.replace(/\.test\.mjs$/, '');
    if (!Array.isArray(list)) {
      all.push({ label, name: '(load)', error: `${file} exports no list "tests"` });
      continue;
    }
    for (const t of list) {
      const full = `${label}: ${t.name}`;
      if (patterns.length && !patterns.some((p) => full.includes(p))) continue;
      if (typeof t.run !== 'function' || !t.name) {
        all.push({ label, name: t.name || '(unnamed)', error: 'a test needs a name and run()' });
      } else if (seen.has(slug(t.name))) {
        all.push({ label, name: t.name, error: 'another test has the same (file-safe) name' });
      } else {
        all.push({ label, ...t });
      }
      seen.add(slug(t.name));
    }
  }
  return all;
}

function withTimeout(promise, ms, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

function indent(text) {
  // eslint-disable-next-line no-control-regex
  return String(text).replace(/\x1b\[[0-9;]*m/g, '').split('\n').map((l) => `      ${l}`).join('\n');
}

async function main() {
  const patterns = process.argv.slice(2);
  let tests;
  try {
    tests = await loadTests(patterns);
  } catch (err) {
    console.log(`browser tests: cannot load the test files: ${err && err.stack ? err.stack : err}`);
    console.log('0 passed, 1 failed');
    return 1;
  }
  if (tests.length === 0) {
    console.log(`browser tests: no test matches ${patterns.join(' ') || '(none found)'}`);
    console.log('0 passed, 1 failed');
    return 1;
  }
  await fs.mkdir(OUT_DIR, { recursive: true });
  console.log(`browser tests against ${BASE_URL} (${CHROMIUM}); screenshots in ${OUT_DIR}`);

  let browser;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60000 });
  } catch (err) {
    console.log(`browser tests: cannot start ${CHROMIUM}: ${err && err.message ? err.message : err}`);
    console.log(`0 passed, ${tests.length} failed`);
    return 1;
  }
  console.log(`chromium ${browser.version()}`);

  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const t of tests) {
    const full = `${t.label}: ${t.name}`;
    if (t.error) {
      failed++;
      console.log(`FAIL  ${full}\n${indent(t.error)}`);
      continue;
    }
    const ctx = new Context(browser, t);
    const started = Date.now();
    let outcome = 'ok';
    let detail = '';
    try {
      await withTimeout(Promise.resolve().then(() => t.run(ctx)), t.timeout || DEFAULT_TIMEOUT, full);
    } catch (err) {
      if (err instanceof Skip) {
        outcome = 'skip';
        detail = err.message;
      } else {
        outcome = 'fail';
        detail = err && err.message ? err.message : String(err);
      }
    } finally {
      await ctx.close();
    }
    const ms = Date.now() - started;
    if (outcome === 'ok') {
      passed++;
      console.log(`ok    ${full} (${ms} ms)`);
    } else if (outcome === 'skip') {
      skipped++;
      console.log(`SKIP  ${full}: ${detail}`);
    } else {
      failed++;
      console.log(`FAIL  ${full} (${ms} ms)\n${indent(detail)}`);
    }
    for (const note of ctx.notes) console.log(indent(note));
  }
  await browser.close().catch(() => {});
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  return failed > 0 ? 1 : 0;
}

process.exitCode = await main();
