/**
 * The web app served by the API process: its files with their cache headers, the shell with
 * its Content-Security-Policy at / (for browsers) and for deep links, and the API's answers
 * left as they are. A tiny stand-in for a SvelteKit build is written to a temporary folder.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import zlib from 'node:zlib';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { tempDir } from '../helpers/config.js';
import { expectProblem } from './admin-helpers.js';

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';
// SvelteKit's SPA bootstrap, as its build writes it (one inline script), and a second one to show every one is hashed.
const BOOTSTRAP = `
				{
					__sveltekit_1x2y3z = { base: "" };
					const element = document.currentScript.parentElement;
					Promise.all([import("/_app/immutable/entry/start.abc123.js"), import("/_app/immutable/entry/app.abc123.js")])
						.then(([kit, app]) => { kit.start(app, element); });
				}
			`;
const THEME = 'document.documentElement.dataset.theme = localStorage.theme ?? "light";';
const INDEX_HTML = `<!doctype html>
<html lang="ru">
	<head>
		<meta charset="utf-8" />
		<link rel="icon" href="/favicon.png" />
		<link rel="modulepreload" href="/_app/immutable/entry/app.abc123.js">
		<script>${THEME}</script>
		<script type="module" src="/_app/immutable/entry/app.abc123.js"></script>
	</head>
	<body>
		<div>
			<script>${BOOTSTRAP}</script>
		</div>
	</body>
</html>
`;
const APP_JS = `export const answer = 42;\n${'// padding, as a real bundle is large enough to be worth compressing\n'.repeat(40)}`;
// The 8-byte PNG signature and an IHDR start: enough to be served as a PNG.
const FAVICON = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');

const sha256 = (text: string) => `'sha256-${crypto.createHash('sha256').update(text, 'utf8').digest('base64')}'`;
// SvelteKit's route announcer carries a fixed style attribute; the build lists its hash in csp.json.
const ANNOUNCER_STYLE = 'position: absolute; left: 0; top: 0; clip: rect(0 0 0 0); width: 1px; height: 1px';
const EXPECTED_CSP =
  `default-src 'self'; script-src 'self' ${sha256(THEME)} ${sha256(BOOTSTRAP)}; style-src 'self'; ` +
  `style-src-attr 'unsafe-hashes' ${sha256(ANNOUNCER_STYLE)}; ` +
  "img-src 'self' blob: data:; media-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

function writeBuild(dir: string): void {
  fs.mkdirSync(path.join(dir, '_app/immutable/entry'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'index.html'), INDEX_HTML);
  fs.writeFileSync(path.join(dir, '_app/immutable/entry/app.abc123.js'), APP_JS);
  // An entry that is not a hash source is ignored: csp.json can only narrow what is allowed.
  fs.writeFileSync(path.join(dir, 'csp.json'), JSON.stringify({ styleAttributeHashes: [sha256(ANNOUNCER_STYLE), "'unsafe-inline'"] }));
  // The web build's compressed copies (web/scripts/postbuild.js).
  fs.writeFileSync(path.join(dir, '_app/immutable/entry/app.abc123.js.br'), zlib.brotliCompressSync(APP_JS));
  fs.writeFileSync(path.join(dir, '_app/immutable/entry/app.abc123.js.gz'), zlib.gzipSync(APP_JS));
  fs.writeFileSync(path.join(dir, 'index.html.br'), zlib.brotliCompressSync(INDEX_HTML));
  fs.writeFileSync(path.join(dir, '_app/version.json'), '{"version":"1"}');
  fs.writeFileSync(path.join(dir, 'favicon.png'), FAVICON);
}

function expectShell(res: { statusCode: number; headers: Record<string, unknown>; body: string }): void {
  expect(res.statusCode, res.body).toBe(200);
  expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(res.headers['cache-control']).toBe('no-cache');
  expect(res.headers['content-security-policy']).toBe(EXPECTED_CSP);
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.headers['referrer-policy']).toBe('no-referrer');
}

describe('web app', () => {
  let t: TestApp;
  const build = tempDir('toolcontrol-web-');
  beforeAll(async () => {
    writeBuild(build.dir);
    t = await buildTestApp({ env: { WEB_DIR: build.dir } });
  });
  afterAll(async () => {
    await t?.close();
    build.cleanup();
  });

  it('GET / gives a browser the shell, with the hash of each inline script in its CSP', async () => {
    const res = await t.app.inject({ url: '/', headers: { accept: BROWSER_ACCEPT } });
    expectShell(res);
    expect(res.body).toBe(INDEX_HTML);
    expect(res.headers.vary).toBe('Accept');
    // The external script is allowed by 'self', not by a hash of its (empty) content.
    expect(res.headers['content-security-policy']).not.toContain(sha256(''));
  });

  it('GET / stays JSON service information for API clients', async () => {
    for (const accept of [undefined, '*/*', 'application/json', 'application/json, text/html', 'text/html;q=0.5, application/json']) {
      const res = await t.app.inject({ url: '/', headers: accept === undefined ? {} : { accept } });
      expect(res.statusCode, `${accept}: ${res.body}`).toBe(200);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(res.headers['content-security-policy']).toBeUndefined();
      expect(res.json()).toMatchObject({ name: 'toolcontrol', version: expect.any(String), docs: '/docs', model: { loaded: false } });
      expect(res.headers.vary).toBe('Accept');
    }
  });

  it('serves the files of the build: hashed assets cached for a year, the rest revalidated', async () => {
    const asset = await t.app.inject({ url: '/_app/immutable/entry/app.abc123.js' });
    expect(asset.statusCode).toBe(200);
    expect(asset.body).toBe(APP_JS);
    expect(asset.headers['content-type']).toMatch(/^(text|application)\/javascript/);
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(asset.headers['x-content-type-options']).toBe('nosniff');

    const icon = await t.app.inject({ url: '/favicon.png', headers: { accept: 'image/avif,image/webp,*/*' } });
    expect(icon.statusCode).toBe(200);
    expect(icon.rawPayload.equals(FAVICON)).toBe(true);
    expect(icon.headers['content-type']).toBe('image/png');
    expect(icon.headers['cache-control']).toBe('no-cache');

    // Under _app/ but not immutable (SvelteKit's version check): revalidated.
    const version = await t.app.inject({ url: '/_app/version.json' });
    expect(version.statusCode).toBe(200);
    expect(version.headers['cache-control']).toBe('no-cache');

    // Revalidation works: the file's validators are sent and honoured.
    expect(icon.headers.etag).toEqual(expect.any(String));
    const again = await t.app.inject({ url: '/favicon.png', headers: { 'if-none-match': String(icon.headers.etag) } });
    expect(again.statusCode).toBe(304);

    // A browser that accepts Brotli or gzip gets the build's compressed copy, with the same headers.
    for (const encoding of ['br', 'gzip'] as const) {
      const compressed = await t.app.inject({ url: '/_app/immutable/entry/app.abc123.js', headers: { 'accept-encoding': `${encoding}, deflate` } });
      expect(compressed.statusCode).toBe(200);
      expect(compressed.headers['content-encoding']).toBe(encoding);
      expect(compressed.headers['content-type']).toMatch(/^(text|application)\/javascript/);
      expect(compressed.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(String(compressed.headers.vary)).toMatch(/accept-encoding/i);
      const body = encoding === 'br' ? zlib.brotliDecompressSync(compressed.rawPayload) : zlib.gunzipSync(compressed.rawPayload);
      expect(body.toString()).toBe(APP_JS);
    }
    expect(asset.headers['content-encoding']).toBeUndefined();

    // The shell is only ever sent as the shell, also under its file name.
    expectProblem(await t.app.inject({ url: '/index.html.br' }), 404, 'route.not_found');
    expectShell(await t.app.inject({ url: '/index.html', headers: { accept: BROWSER_ACCEPT } }));
  });

  it('a deep link gives a browser the shell; an API client the usual 404', async () => {
    const page = await t.app.inject({ url: '/kits/3', headers: { accept: BROWSER_ACCEPT } });
    expectShell(page);
    expect(page.body).toBe(INDEX_HTML);
    expect(page.headers.vary).toBe('Accept');
    expectShell(await t.app.inject({ url: '/history?toolkit_id=3', headers: { accept: 'text/html' } }));
    const head = await t.app.inject({ method: 'HEAD', url: '/kits/3', headers: { accept: BROWSER_ACCEPT } });
    expectShell(head);
    expect(head.body).toBe('');

    for (const headers of [{ accept: 'application/json' }, {}, { accept: '*/*' }, { accept: 'text/html;q=0' }]) {
      const res = await t.app.inject({ url: '/kits/3', headers });
      expectProblem(res, 404, 'route.not_found');
      expect(res.headers['content-security-policy']).toBeUndefined();
      expect(res.headers.vary).toBe('Accept');
    }
    // Only reads: a form posted to a page path is not answered with the app.
    expectProblem(await t.app.inject({ method: 'POST', url: '/kits/3', headers: { accept: BROWSER_ACCEPT }, payload: {} }), 404, 'route.not_found');
  });

  it('paths of the API and unknown assets are never the shell, whatever the Accept header', async () => {
    for (const url of [
      '/api/v1/nope',
      '/api',
      '/auth/nope',
      '/predict/nope',
      '/base/nope',
      '/metrics/nope',
      '/openapi.json/nope',
      '/_app/immutable/x.js',
      '/_app/immutable/entry/app.abc999.js',
      '/_app/nope',
    ]) {
      const res = await t.app.inject({ url, headers: { accept: BROWSER_ACCEPT } });
      expectProblem(res, 404, 'route.not_found');
      expect(res.headers['content-security-policy'], url).toBeUndefined();
    }
    // An existing API route answers as ever (here: no token).
    expectProblem(await t.app.inject({ url: '/api/v1/toolkits', headers: { accept: BROWSER_ACCEPT } }), 401, 'auth.missing_token');
    const media = await t.app.inject({ url: '/media/nope.jpg', headers: { accept: BROWSER_ACCEPT } });
    expect(media.headers['content-type']).toContain('application/problem+json');
    // A path that only starts like an API prefix is the app's.
    expectShell(await t.app.inject({ url: '/predictions', headers: { accept: BROWSER_ACCEPT } }));
  });

  it('counts the build\'s files under one route label in the metrics, not one per file', async () => {
    await t.app.inject({ url: '/_app/immutable/entry/app.abc123.js' });
    await t.app.inject({ url: '/favicon.png' });
    const metrics = await t.app.inject({ url: '/metrics' });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toMatch(/toolcontrol_http_request_duration_seconds_count\{method="GET",route="web-app",status_code="200"\} [1-9]/);
    expect(metrics.body).not.toContain('app.abc123.js');
    expect(metrics.body).not.toContain('favicon');
  });

  it('the OpenAPI document stays valid and describes / as JSON, or HTML for browsers', async () => {
    const res = await t.app.inject({ url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    const root = doc.paths['/'].get;
    expect(Object.keys(root.responses['200'].content).sort()).toEqual(['application/json', 'text/html']);
    expect(root.responses['200'].content['application/json'].schema.properties).toHaveProperty('version');
    // The build's files are not API routes.
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/_app') || p === '/favicon.png' || p === '/index.html')).toEqual([]);
  });
});

describe('web app with CORS', () => {
  it('adds Accept to the Vary header CORS sets, rather than replacing it', async () => {
    const build = tempDir('toolcontrol-web-cors-');
    writeBuild(build.dir);
    const t = await buildTestApp({ env: { WEB_DIR: build.dir, CORS_ORIGINS: 'https://tools.example' } });
    try {
      const headers = { accept: BROWSER_ACCEPT, origin: 'https://tools.example' };
      for (const url of ['/', '/kits/3']) {
        const res = await t.app.inject({ url, headers });
        expectShell(res);
        expect(res.headers['access-control-allow-origin']).toBe('https://tools.example');
        expect(String(res.headers.vary).split(/,\s*/).sort()).toEqual(['Accept', 'Origin']);
      }
    } finally {
      await t.close();
      build.cleanup();
    }
  });
});

describe('without a built web app', () => {
  it('warns once at start and answers / with JSON, deep links with 404, as before', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    const empty = tempDir('toolcontrol-web-empty-');
    // A folder with files but no index.html counts as not built.
    fs.writeFileSync(path.join(empty.dir, 'favicon.png'), FAVICON);
    const t = await buildTestApp({ env: { WEB_DIR: empty.dir }, overrides: { logger: pino({ level: 'info' }, sink) } });
    try {
      const warnings = lines.filter((l) => l.msg === 'web app not built: run npm install');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ level: 40, webDir: empty.dir });

      const root = await t.app.inject({ url: '/', headers: { accept: BROWSER_ACCEPT } });
      expect(root.statusCode).toBe(200);
      expect(root.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(root.json()).toMatchObject({ name: 'toolcontrol', docs: '/docs' });
      expect(root.headers.vary).toBeUndefined();
      expectProblem(await t.app.inject({ url: '/kits/3', headers: { accept: BROWSER_ACCEPT } }), 404, 'route.not_found');
      expectProblem(await t.app.inject({ url: '/favicon.png' }), 404, 'route.not_found');
      expectProblem(await t.app.inject({ url: '/index.html', headers: { accept: BROWSER_ACCEPT } }), 404, 'route.not_found');
    } finally {
      await t.close();
      empty.cleanup();
    }
  });
});
