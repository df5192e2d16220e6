// t/browser/xss.test.mjs: pages that render the XSS corpus (t/xss/corpus.txt) through
// the templates and through the HTML sanitizer execute nothing.
//
// The pages are listed in t/browser/xss-pages.json: a JSON list of paths, or of
// { "path": ..., "status": ... } for one that answers with another status than 200.
// A page should mark the elements that hold rendered corpus entries with the
// attribute data-xss-corpus; the markup checks below then look inside those only,
// and more strictly (no forms, styles or links there either). Without such marks the
// whole document is checked, leniently (the layout's own scripts and forms are fine).
//
// Each page is loaded twice:
//  1. with the page's Content-Security-Policy bypassed, so that only the templates and
//     the sanitizer stand between the corpus and the browser: no script may run (the
//     init script below turns alert, confirm, prompt, print, eval, Function, string
//     timers, document.write and window.open into records in window.__xss), no dialog
//     may open, no request may go to another origin, and the DOM may hold no event
//     handler attribute, no script of a foreign kind, no javascript:/data:/vbscript:
//     URL, no srcdoc, no unsandboxed frame, no object/embed/base/meta refresh, no
//     style with url() or expression(). Then mouse, focus, load and error events are
//     fired at every element, and whatever runs then is recorded too.
//  2. with the Content-Security-Policy in force: nothing above, and no CSP violation
//     either (a violation means markup that tried to run got as far as the browser).
// Two self-tests show that the harness sees a page that runs script and passes one
// that does not (MAILROOM_BROWSER_VERBOSE=1 prints what it saw).

import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const LIST = path.join(HERE, 'xss-pages.json');
// How long after its load event a frame is left alone before it is checked (htmx
// requests triggered by "load" come back in this time on a local stack).
const SETTLE_MS = 300;

// installProbe(settle): the init script of every frame, before any script of the page.
// It turns the usual sinks into records, and once the frame has loaded and `settle` ms
// have passed, it checks the markup, fires events at every element and says it is
// done. Everything goes to the harness through bindings, not page.evaluate: Playwright
// evaluates with the page's own eval, which is one of the sinks.
function installProbe(settle) {
  const bind = (name) => {
    const f = window[name];
    return (...args) => {
      try {
        if (typeof f === 'function') f(...args);
      } catch (e) { /* the page is unloading */ }
    };
  };
  const reportHit = bind('__mailroomXssHit');
  const reportScan = bind('__mailroomXssScan');
  const reportDone = bind('__mailroomXssDone');
  const realSetTimeout = window.setTimeout;
  const hits = [];
  Object.defineProperty(window, '__xss', { value: hits, configurable: false, writable: false });
  const record = (sink, detail) => {
    let text = sink;
    try {
      if (detail !== undefined) text += `: ${String(detail).slice(0, 160)}`;
    } catch (e) { /* an object that cannot be printed */ }
    hits.push(text);
    reportHit(text);
  };
  const trap = (obj, name, fn) => {
    try {
      Object.defineProperty(obj, name, { value: fn, configurable: false, writable: false });
    } catch (e) {
      record(`harness: cannot trap ${name}`);
    }
  };
  for (const name of ['alert', 'confirm', 'prompt', 'print']) {
    trap(window, name, function (message) {
      record(name, message);
      return name === 'confirm' ? false : null;
    });
  }
  // Playwright runs its own code in the page through eval (binding results,
  // page.evaluate): that is let through, anything else is recorded and not run.
  const realEval = window.eval;
  trap(window, 'eval', function (code) {
    if (typeof code === 'string' && (code.includes('__playwright__') || /UtilityScript\./.test(new Error().stack))) {
      return realEval(code);
    }
    record('eval', code);
    return undefined;
  });
  const FakeFunction = function (...args) {
    record('Function', args.join(', '));
    return function () {};
  };
  FakeFunction.prototype = window.Function.prototype;
  trap(window, 'Function', FakeFunction);
  for (const name of ['setTimeout', 'setInterval']) {
    const real = window[name];
    trap(window, name, function (handler, ...rest) {
      if (typeof handler !== 'function') {
        record(`${name}(string)`, handler);
        return 0;
      }
      return real.call(window, handler, ...rest);
    });
  }
  trap(Document.prototype, 'write', function (...a) { record('document.write', a.join('')); });
  trap(Document.prototype, 'writeln', function (...a) { record('document.writeln', a.join('')); });
  trap(window, 'open', function (u) { record('window.open', u); return null; });

  // What in the DOM could run script or leak data.
  const scanMarkup = () => {
    const found = [];
    const add = (what, el) => {
      if (found.length >= 50) return;
      const html = el && el.outerHTML ? el.outerHTML.slice(0, 160) : '';
      found.push(`${what}${html ? `: ${html}` : ''}`);
    };
    const marked = Array.from(document.querySelectorAll('[data-xss-corpus]'));
    const strict = marked.length > 0;
    const roots = strict ? marked : [document.documentElement];
    const origin = location.origin;
    const urlAttrs = new Set(['href', 'src', 'action', 'formaction', 'xlink:href', 'data', 'poster',
      'background', 'cite', 'codebase', 'longdesc', 'lowsrc', 'dynsrc', 'ping', 'manifest', 'icon']);
    const safeURL = (value, el, name) => {
      const v = value.trim();
      if (v === '' || v.startsWith('#')) return true;
      let u;
      try {
        u = new URL(v, document.baseURI);
      } catch (e) {
        return true; // not a URL the browser would follow
      }
      if (['http:', 'https:', 'mailto:'].includes(u.protocol)) return true;
      return u.protocol === 'data:' && el.localName === 'img' && name === 'src' &&
        /^data:image\/(png|gif|jpeg|webp)[;,]/i.test(v);
    };
    for (const root of roots) {
      for (const el of [root, ...root.querySelectorAll('*')]) {
        const tag = el.localName;
        if (tag === 'script') {
          const ours = (el.src && el.src.startsWith(`${origin}/static/`)) || el.type === 'application/json';
          if (!ours) add('script element', el);
        } else if (['object', 'embed', 'applet', 'base', 'frame', 'frameset'].includes(tag)) {
          add(`${tag} element`, el);
        } else if (tag === 'meta' && /refresh/i.test(el.getAttribute('http-equiv') || '')) {
          add('meta refresh', el);
        } else if (tag === 'iframe') {
          const sb = el.getAttribute('sandbox');
          if (sb === null) add('iframe without sandbox', el);
          else if (/allow-scripts/.test(sb) && /allow-same-origin/.test(sb)) {
            add('iframe sandbox allows scripts with its origin', el);
          }
        } else if (strict && ['form', 'style', 'link'].includes(tag)) {
          add(`${tag} element in the corpus`, el);
        } else if (strict && tag === 'svg' && el.querySelector('script, foreignObject, set, animate')) {
          add('svg with script or animation in the corpus', el);
        }
        for (const attr of Array.from(el.attributes)) {
          const name = attr.name.toLowerCase();
          if (name.startsWith('on')) add(`event handler attribute ${name}`, el);
          else if (name === 'srcdoc') add('srcdoc attribute', el);
          else if (name === 'style' && /url\s*\(|expression\s*\(|javascript:|@import/i.test(attr.value)) {
            add('style that loads or runs something', el);
          } else if (urlAttrs.has(name) && !safeURL(attr.value, el, name)) {
            add(`${name} with a forbidden scheme`, el);
          } else if (name === 'srcset' && /(javascript|data|vbscript):/i.test(attr.value)) {
            add('srcset with a forbidden scheme', el);
          }
        }
      }
    }
    return found;
  };

  // Fires the events that inline handlers and some vectors wait for.
  const poke = () => {
    const marked = Array.from(document.querySelectorAll('[data-xss-corpus]'));
    const roots = marked.length ? marked : [document.body || document.documentElement];
    const types = ['mouseover', 'mouseenter', 'pointerover', 'mousemove', 'focusin', 'load', 'error',
      'animationstart', 'transitionend', 'toggle'];
    let n = 0;
    for (const root of roots) {
      for (const el of [root, ...root.querySelectorAll('*')]) {
        if (++n > 5000) return n;
        for (const type of types) {
          try {
            el.dispatchEvent(new Event(type, { bubbles: type !== 'mouseenter' }));
          } catch (e) { /* ignore */ }
        }
        try {
          if (typeof el.focus === 'function') el.focus({ preventScroll: true });
        } catch (e) { /* ignore */ }
      }
    }
    return n;
  };

  window.addEventListener('load', () => {
    realSetTimeout.call(window, () => {
      let count = 0;
      try {
        reportScan(scanMarkup());
        count = poke();
      } catch (e) {
        reportScan([`harness: the probe failed: ${e}`]);
      }
      realSetTimeout.call(window, () => reportDone(count), 300);
    }, settle);
  });
}

async function readPages() {
  let text;
  try {
    text = await fs.readFile(LIST, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${path.relative(process.cwd(), LIST)}: ${err.message}`);
  }
  const list = JSON.parse(text);
  if (!Array.isArray(list)) throw new Error('xss-pages.json must hold a JSON list');
  return list.map((e) => {
    const entry = typeof e === 'string' ? { path: e } : e;
    if (!entry || typeof entry.path !== 'string' || !entry.path.startsWith('/')) {
      throw new Error(`xss-pages.json: bad entry ${JSON.stringify(e)} (a path starting with / or { "path", "status" })`);
    }
    return { path: entry.path, status: entry.status ?? 200 };
  });
}

// load(ctx, path, options): opens the page with the probe and waits until the probe of
// its main frame is done; returns the opened page and what the probe found.
async function load(ctx, p, options) {
  const found = { hits: [], markup: [], done: false };
  let finish;
  const done = new Promise((resolve) => { finish = resolve; });
  const where = (frame) => (frame && frame.parentFrame() ? `[frame ${frame.url()}] ` : '');
  const opened = await ctx.open(p, {
    ...options,
    settle: 0,
    initScripts: [`(${installProbe.toString()})(${SETTLE_MS});`],
    bindings: {
      __mailroomXssHit: (frame, text) => found.hits.push(`${where(frame)}script ran: ${text}`),
      __mailroomXssScan: (frame, list) => found.markup.push(...list.map((f) => `${where(frame)}markup: ${f}`)),
      __mailroomXssDone: (frame) => {
        if (frame && !frame.parentFrame()) finish(true);
      },
    },
  });
  found.done = await Promise.race([done, opened.page.waitForTimeout(15000).then(() => false)]);
  await opened.page.waitForTimeout(200); // late hits of frames
  return { opened, found };
}

// checkPage(ctx, { path, status, content? }): throws what ran or could run. content
// (sent with the policy the stack sends on "/") replaces the stack's answer, for the
// self-tests.
async function checkPage(ctx, { path: p, status, content }) {
  const problems = [];
  let served = {};
  if (content !== undefined) {
    const csp = (await fetch(ctx.url('/'))).headers.get('content-security-policy');
    ctx.assert(csp, 'GET / sends no Content-Security-Policy');
    served = { content, headers: { 'Content-Security-Policy': csp } };
  }

  // 1. The templates and the sanitizer alone (CSP bypassed).
  const bare = await load(ctx, p, { status, bypassCSP: true, ...served });
  if (!bare.found.done) problems.push('(CSP bypassed) the probe did not finish: were scripts disabled?');
  problems.push(...bare.found.markup, ...bare.found.hits.map((h) => `(CSP bypassed) ${h}`));
  // Console errors may be the corpus' broken images: only what ran counts.
  problems.push(...ctx.problems(bare.opened, { ignoreConsole: [/./] }).map((l) => `(CSP bypassed) ${l}`));
  if (content === undefined) await ctx.screenshot(bare.opened.page, `xss-${p.replace(/[^A-Za-z0-9]+/g, '-')}`);
  await bare.opened.context.close();

  // 2. With the page's Content-Security-Policy.
  const strict = await load(ctx, p, { status, ...served });
  if (!strict.found.done) problems.push('(with CSP) the probe did not finish');
  problems.push(...strict.found.hits.map((h) => `(with CSP) ${h}`));
  problems.push(...ctx.problems(strict.opened, { ignoreConsole: [/./] }).map((l) => `(with CSP) ${l}`));
  if (problems.length > 0) throw new Error(`${ctx.url(p)}:\n${problems.join('\n')}`);
}

// The harness must see what runs, and must not see what does not.
const HOSTILE = `<!DOCTYPE html><html><head><title>hostile</title></head><body>
<div data-xss-corpus>
<img src="/no-such-image.png" onerror="alert(1)">
<a href="javascript:alert(2)">link</a>
<script>alert(3)</script>
<svg><animate onbegin="alert(4)" attributeName="x" dur="1s"></animate></svg>
</div></body></html>`;
const INERT = `<!DOCTYPE html><html><head><title>inert</title></head><body>
<div data-xss-corpus>
<p>&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=alert(2)&gt;</p>
<a href="https://example.org/">a link</a> <a href="mailto:a@example.org">mail</a>
<img src="/no-such-image.png" alt="a broken image is no script">
</div></body></html>`;

const SELF_TESTS = [
  {
    name: 'harness self-test: hostile page fails',
    async run(ctx) {
      let err = null;
      try {
        await checkPage(ctx, { path: '/__xss-selftest-hostile', status: 200, content: HOSTILE });
      } catch (e) {
        err = e;
      }
      ctx.assert(err, 'the harness let a page with running scripts pass');
      if (process.env.MAILROOM_BROWSER_VERBOSE) ctx.log(err.message);
      for (const want of ['script ran: alert: 1', 'event handler attribute onerror', 'href with a forbidden scheme',
        'script element', 'CSP violation']) {
        ctx.assert(err.message.includes(want), `the harness did not report "${want}":\n${err.message}`);
      }
    },
  },
  {
    name: 'harness self-test: inert page passes',
    run: (ctx) => checkPage(ctx, { path: '/__xss-selftest-inert', status: 200, content: INERT }),
  },
];

let pages;
let loadError = null;
try {
  pages = await readPages();
} catch (err) {
  loadError = err;
  pages = [];
}

function pageTests() {
  if (loadError) return [{ name: 'xss-pages.json', run() { throw loadError; } }];
  if (pages.length === 0) {
    return [{ name: 'corpus pages', run(ctx) { ctx.skip('no XSS pages yet (t/browser/xss-pages.json is empty)'); } }];
  }
  return pages.map((entry) => ({
    name: `corpus ${entry.path}`,
    timeout: 120000,
    run: (ctx) => checkPage(ctx, entry),
  }));
}

export const tests = [...SELF_TESTS, ...pageTests()];
