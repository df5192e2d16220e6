// tailwind.config.js: the Tailwind CSS settings of mailroom's pages. contrib/assets
// compiles templates/src/app.css with them into templates/static/css/app.<hash>.css.
//
// Tailwind keeps only the utility classes it finds in the files below, so a class
// name must appear whole in a template (never built from pieces at run time). The
// component classes of app.css (buttons, fields, flash messages, category chips) are
// always kept and may be set from C code.

/** @type {import('tailwindcss').Config} */
module.exports = {
  content: {
    relative: true,
    files: ['./templates/**/*.html', './templates/src/**/*.js'],
  },
  // Follows the operating system's light or dark setting; no toggle, no script.
  darkMode: 'media',
  theme: {
    extend: {
      fontFamily: {
        // The system's own interface font: nothing to download, familiar on every device.
        sans: [
          'system-ui',
          '-apple-system',
          '"Segoe UI"',
          'Roboto',
          '"Helvetica Neue"',
          '"Noto Sans"',
          '"Liberation Sans"',
          'Arial',
          'sans-serif',
          '"Apple Color Emoji"',
          '"Segoe UI Emoji"',
          '"Noto Color Emoji"',
        ],
        mono: [
          'ui-monospace',
          'SFMono-Regular',
          'Menlo',
          'Consolas',
          '"Liberation Mono"',
          'monospace',
        ],
      },
      colors: {
        // The accent of links, primary buttons and focus rings.
        brand: {
          50: '#eef2ff',
          100: '#e0e7ff',
          200: '#c7d2fe',
          300: '#a5b4fc',
          400: '#818cf8',
          500: '#6366f1',
          600: '#4f46e5',
          700: '#4338ca',
          800: '#3730a3',
          900: '#312e81',
          950: '#1e1b4b',
        },
      },
      maxWidth: {
        prose: '68ch',
      },
    },
  },
  plugins: [],
};
