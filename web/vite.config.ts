import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vite';

// `npm run dev` proxies the API to a service on :8000 (npm start).
const api = ['/api', '/auth', '/predict', '/media', '/base', '/openapi.json', '/docs'];

export default defineConfig({
  plugins: [sveltekit()],
  server: { proxy: Object.fromEntries(api.map((p) => [p, 'http://127.0.0.1:8000'])) },
  // Quiet at install: rolldown's plugin timing report is for profiling builds, not for users.
  build: { reportCompressedSize: false, rolldownOptions: { checks: { pluginTimings: false } } },
  // SvelteKit's build analyses its server bundle in Node: bundle `cookie` into it, because the
  // workspace root hoists @fastify/cookie's cookie@2, whose exports differ from the 0.6 kit needs.
  ssr: { noExternal: ['cookie'] },
});
