/* templates/src/app.js: mailroom's own script, copied by contrib/assets to
 * templates/static/js/app.<hash>.js. It loads nothing and evaluates no strings, so it
 * runs under the pages' Content-Security-Policy (script-src 'self', no unsafe-eval,
 * no inline scripts or styles).
 *
 * Load order in the layout, all three with `defer` (they then run in this order,
 * before DOMContentLoaded):
 *   js/htmx.js     htmx
 *   js/app.js      this file: htmx settings, Alpine components
 *   js/alpine.js   Alpine.js, CSP build (starts at once, so it comes last)
 *
 * Alpine's CSP build evaluates no expressions: x-data names a component registered
 * here, and directives name its properties and methods, for example
 *   <div x-data="toggle"><button type="button" @click="toggle" :aria-expanded="open">
 *   Menu</button><ul x-show="open" x-cloak @click.outside="close">...</ul></div>
 */
(function () {
  'use strict';

  // ---- htmx

  var htmx = window.htmx;
  if (htmx) {
    // Indicator styles come from app.css: an inline <style> breaks the CSP.
    htmx.config.includeIndicatorStyles = false;
    // No hx-on / js: expressions and no scripts out of swapped content.
    htmx.config.allowEval = false;
    htmx.config.allowScriptTags = false;
    htmx.config.selfRequestsOnly = true;
    // Pages hold mail: no copies in localStorage. Going back reloads the page.
    htmx.config.historyCacheSize = 0;
    htmx.config.refreshOnHistoryMiss = true;

    // Requests that change something carry the CSRF token of
    // <meta name="csrf-token" content="...">, when the page has one.
    document.addEventListener('htmx:configRequest', function (event) {
      var detail = event.detail;
      var verb = String(detail.verb || '').toUpperCase();
      if (verb === 'GET' || verb === 'HEAD') return;
      var meta = document.querySelector('meta[name="csrf-token"]');
      var token = meta && meta.getAttribute('content');
      if (token) detail.headers['X-CSRF-Token'] = token;
    });
  }

  // ---- Alpine components

  function register(Alpine) {
    // A disclosure: menus, the navigation drawer on phones, "show more".
    // Escape closes it; so does a click outside with @click.outside="close".
    Alpine.data('toggle', function () {
      return {
        open: false,
        toggle: function () {
          this.open = !this.open;
        },
        show: function () {
          this.open = true;
        },
        close: function () {
          this.open = false;
        },
        init: function () {
          var self = this;
          this.open = this.$el.hasAttribute('data-open');
          this.$el.addEventListener('keydown', function (event) {
            if (event.key === 'Escape' && self.open) {
              self.open = false;
            }
          });
        },
      };
    });

    // A flash message: x-data="flash", x-show="visible", a .flash-close button with
    // @click="dismiss". data-autohide="5" hides it after 5 seconds (for confirmations;
    // leave errors up until dismissed).
    Alpine.data('flash', function () {
      return {
        visible: true,
        dismiss: function () {
          this.visible = false;
        },
        init: function () {
          var self = this;
          var seconds = parseInt(this.$el.getAttribute('data-autohide') || '', 10);
          if (seconds > 0) {
            window.setTimeout(function () {
              self.visible = false;
            }, seconds * 1000);
          }
        },
      };
    });

    // Copies the text of data-copy to the clipboard: x-data="copy" data-copy="...",
    // @click="copy", and x-show="copied" for a "Copied" note that fades after 2 s.
    Alpine.data('copy', function () {
      return {
        copied: false,
        copy: function () {
          var self = this;
          var text = this.$el.getAttribute('data-copy') || '';
          if (!navigator.clipboard) return;
          navigator.clipboard.writeText(text).then(function () {
            self.copied = true;
            window.setTimeout(function () {
              self.copied = false;
            }, 2000);
          }, function () {});
        },
      };
    });
  }

  // ---- Sign-up: the time zone field starts with the browser's own zone.

  document.addEventListener('DOMContentLoaded', function () {
    var field = document.getElementById('signup-time_zone');
    var zone;
    try {
      zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    } catch (e) {
      zone = '';
    }
    if (field && zone && (field.value === '' || field.value === 'UTC')) field.value = zone;
  });

  if (window.Alpine) {
    register(window.Alpine);
  } else {
    document.addEventListener('alpine:init', function () {
      register(window.Alpine);
    });
  }
})();
