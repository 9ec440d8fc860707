import adapter from '@sveltejs/adapter-static';

/** A single-page app: the service serves build/ and falls back to index.html for deep links. */
export default {
  kit: {
    adapter: adapter({ pages: 'build', assets: 'build', fallback: 'index.html', strict: true }),
    // The service sends the Content-Security-Policy header (hashing the shell's inline script).
    output: { bundleStrategy: 'split' },
    version: { pollInterval: 0 },
  },
};
