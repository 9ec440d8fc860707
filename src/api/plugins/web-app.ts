/**
 * The built web app (WEB_DIR, a SvelteKit single-page build), served by the API process.
 *
 * Every file of the build gets its own route (no wildcard: an unknown path never reaches the
 * file system), its Brotli or gzip copy sent when the build made one and the browser accepts
 * it. Files under /_app/immutable/ carry a content hash in their names and are cached for a
 * year; everything else is revalidated on each use. The app shell (index.html) is what a
 * browser gets for GET / and for any deep link (/kits/3) outside the API's own paths, with a
 * strict Content-Security-Policy: scripts only from this origin plus the shell's own inline
 * bootstrap, allowed by its sha256 computed at start.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../../shared/logger.js';

export interface WebApp {
  /** The build folder. */
  root: string;
  /** index.html as built. */
  shell: Buffer;
  /** The shell's Content-Security-Policy, with the hashes of its inline scripts. */
  contentSecurityPolicy: string;
}

/** First path segments that belong to the API: never answered with the app. */
const API_SEGMENTS = new Set(['api', 'auth', 'predict', 'media', 'base', 'docs', 'openapi.json', 'metrics']);
/** The build's own assets: an unknown one is a 404, not the app. */
const ASSET_PREFIX = '/_app/';
const IMMUTABLE_PREFIX = '_app/immutable/';
/** The metrics' `route` label of the build's files. */
export const WEB_APP_METRICS_ROUTE = 'web-app';

const INLINE_SCRIPT = /<script\b([^>]*)>([\s\S]*?)<\/script\s*>/gi;
const SRC_ATTRIBUTE = /(?:^|\s)src\s*=/i;

/** `'sha256-…'` sources for every inline <script> of a page (those without src), in order, without repeats. */
export function inlineScriptHashes(html: string): string[] {
  const hashes: string[] = [];
  for (const [, attributes, content] of html.matchAll(INLINE_SCRIPT)) {
    if (SRC_ATTRIBUTE.test(attributes ?? '')) continue;
    const source = `'sha256-${crypto.createHash('sha256').update(content ?? '', 'utf8').digest('base64')}'`;
    if (!hashes.includes(source)) hashes.push(source);
  }
  return hashes;
}

export function shellContentSecurityPolicy(scriptHashes: readonly string[], styleAttributeHashes: readonly string[] = []): string {
  return [
    'default-src \'self\'',
    ['script-src \'self\'', ...scriptHashes].join(' '),
    'style-src \'self\'',
    // Markup the app's scripts insert with a fixed style attribute (SvelteKit's route
    // announcer): allowed by the hash of each such attribute alone, never inline styles at large.
    ...(styleAttributeHashes.length > 0 ? [['style-src-attr \'unsafe-hashes\'', ...styleAttributeHashes].join(' ')] : []),
    'img-src \'self\' blob: data:',
    'media-src \'self\' blob:',
    'object-src \'none\'',
    'base-uri \'self\'',
    'form-action \'self\'',
    'frame-ancestors \'none\'',
  ].join('; ');
}

const CSP_SOURCE = /^'sha256-[A-Za-z0-9+/]+={0,2}'$/;

/** The hashes of the style attributes the build's scripts insert (csp.json, written by web/scripts/postbuild.js). */
async function styleAttributeHashes(dir: string): Promise<string[]> {
  let text: string;
  try {
    text = await fs.readFile(path.join(dir, 'csp.json'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const hashes = (JSON.parse(text) as { styleAttributeHashes?: unknown }).styleAttributeHashes;
  return Array.isArray(hashes) ? hashes.filter((h): h is string => typeof h === 'string' && CSP_SOURCE.test(h)) : [];
}

/** The build in `dir`, or null (with one warning) when it has no index.html. */
export async function loadWebApp(dir: string, logger: Logger): Promise<WebApp | null> {
  let shell: Buffer;
  try {
    shell = await fs.readFile(path.join(dir, 'index.html'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ENOTDIR') throw err;
    logger.warn({ webDir: dir }, 'web app not built: run npm install');
    return null;
  }
  return {
    root: dir,
    shell,
    contentSecurityPolicy: shellContentSecurityPolicy(inlineScriptHashes(shell.toString('utf8')), await styleAttributeHashes(dir)),
  };
}

/** The Accept header's most specific range matching a media type (3 exact, 2 its type's wildcard, 1 the any-type wildcard) and its q-value, or null. */
function bestRange(accept: string, mediaType: string): { specificity: number; q: number } | null {
  const [type] = mediaType.split('/');
  let best: { specificity: number; q: number } | null = null;
  for (const part of accept.split(',')) {
    const [range, ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    if (!range) continue;
    const specificity = range === mediaType ? 3 : range === `${type}/*` ? 2 : range === '*/*' ? 1 : 0;
    if (specificity === 0) continue;
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!Number.isFinite(q)) continue;
    if (!best || specificity > best.specificity) best = { specificity, q };
  }
  return best;
}

/** The q-value the Accept header gives a media type (no header: any type, q=1). */
function acceptQuality(accept: string | undefined, mediaType: string): number {
  if (accept === undefined || accept.trim() === '') return 1;
  return bestRange(accept, mediaType)?.q ?? 0;
}

/** A browser asking for a page: the Accept header ranks text/html above JSON (ties, a bare wildcard and no Accept go to JSON). */
export function prefersHtml(request: FastifyRequest): boolean {
  const accept = request.headers.accept;
  const html = acceptQuality(accept, 'text/html');
  return html > 0 && html > acceptQuality(accept, 'application/json');
}

/** The Accept header names text/html (not only through a wildcard). */
function asksForHtml(request: FastifyRequest): boolean {
  const range = request.headers.accept ? bestRange(request.headers.accept, 'text/html') : null;
  return range !== null && range.specificity === 3 && range.q > 0;
}

function pathOf(request: FastifyRequest): string {
  return request.url.split('?')[0]!;
}

/** Whether a path no route matched may be a page of the app (a deep link), as opposed to the API's or an asset's. */
function mayBeAppPage(urlPath: string): boolean {
  if (urlPath.startsWith(ASSET_PREFIX)) return false;
  const segment = urlPath.split('/')[1] ?? '';
  return !API_SEGMENTS.has(segment);
}

/** Adds Accept to Vary, keeping what is there (CORS's Origin). */
export function varyOnAccept(reply: FastifyReply): void {
  const current = reply.getHeader('vary');
  const names = (Array.isArray(current) ? current.join(',') : String(current ?? '')).split(',').map((n) => n.trim()).filter(Boolean);
  if (!names.some((n) => n.toLowerCase() === 'accept' || n === '*')) reply.header('vary', [...names, 'Accept'].join(', '));
}

export function sendShell(reply: FastifyReply, webApp: WebApp): FastifyReply {
  return reply
    .code(200)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-cache')
    .header('content-security-policy', webApp.contentSecurityPolicy)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .send(webApp.shell);
}

/**
 * For the not-found handler: answers a browser's deep link (GET or HEAD, Accept naming
 * text/html, a path outside the API and the build's assets) with the shell. False: not
 * such a request, the caller answers 404 as usual.
 */
export function deepLinkFallback(webApp: WebApp) {
  return (request: FastifyRequest, reply: FastifyReply): boolean => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return false;
    if (!mayBeAppPage(pathOf(request))) return false;
    // The answer depends on Accept: caches must not give the shell to an API client or the reverse.
    varyOnAccept(reply);
    if (!asksForHtml(request)) return false;
    sendShell(reply, webApp);
    return true;
  };
}

/** Routes for every file of the build (index.html included, as the shell). */
export async function registerWebApp(app: FastifyInstance, webApp: WebApp): Promise<void> {
  await app.register(async (scope) => {
    // One route per file, whose names change with each build: one `route` label for them all.
    scope.addHook('onRoute', (route) => {
      route.config = Object.assign(route.config ?? {}, { metricsRoute: WEB_APP_METRICS_ROUTE });
    });
    await scope.register(fastifyStatic, {
      root: webApp.root,
      prefix: '/',
      wildcard: false,
      index: false,
      // The shell is sent with its security headers by sendShell, never as a plain file.
      globIgnore: ['index.html', 'index.html.br', 'index.html.gz'],
      // The build writes .br and .gz copies of its text assets: sent as they are to browsers that accept them.
      preCompressed: true,
      decorateReply: false,
      cacheControl: false,
      setHeaders(reply, filePath) {
        const relative = path.relative(webApp.root, filePath).split(path.sep).join('/');
        reply.header('cache-control', relative.startsWith(IMMUTABLE_PREFIX) ? 'public, max-age=31536000, immutable' : 'no-cache');
        reply.header('x-content-type-options', 'nosniff');
      },
    });
    scope.get('/index.html', { schema: { hide: true } }, async (_request, reply) => sendShell(reply, webApp));
  });
}
