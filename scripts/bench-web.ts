/**
 * npm run bench:web [-- --rounds 8]
 *
 * The web app as a tablet at the counter meets it, against a real server (`npm start`,
 * default model, result cache off so every photo is recognised) in Debian's Chromium:
 *
 * 1. What the first screen (sign-in, cold cache) transfers: each JS and CSS file, its
 *    bytes on the wire (the service sends precompressed files), and gzip -9 of the same
 *    file; target ≤ 150 KB gzip in all.
 * 2. Time from pressing «Выдать набор» to the verdict on screen, against the API's own
 *    time for the same photo (POST /api/v1/operations from Node, multipart, to the parsed
 *    answer), interleaved round by round on kits of the same contents; target ≤ 1.15×.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import zlib from 'node:zlib';
import { REFERENCE_KIT_NAME } from '../src/db/seed.js';
import { renderScene } from '../src/synth/scene.js';
import { launchChromium, VIEWPORTS } from '../test/helpers/browser.js';
import { startServer } from '../test/helpers/server-process.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '8' } } });
const rounds = Number(values.rounds);
const ADMIN_PASSWORD = 'bench-web-admin-password';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'toolcontrol-bench-web-'));
const server = await startServer({ DATA_DIR: dir, ADMIN_PASSWORD, LOG_LEVEL: 'warn', RESULT_CACHE_TTL: '0' }, { timeoutMs: 90_000 });
const browser = await launchChromium();
try {
  const base = server.baseUrl;
  const token = (await (await fetch(`${base}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ employee_number: 'admin', password: ADMIN_PASSWORD }) })).json()).access_token as string;
  const call = async (method: string, url: string, body?: unknown) => {
    const res = await fetch(`${base}${url}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
    if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
    return res.json();
  };

  // 1. The first screen, cold.
  const context = await browser.newContext({ viewport: VIEWPORTS.tablet });
  const page = await context.newPage();
  const files: Array<{ url: string; wire: number; gzip: number; encoding: string }> = [];
  const pending: Array<Promise<void>> = [];
  page.on('requestfinished', (request) => {
    const type = request.resourceType();
    if (type !== 'script' && type !== 'stylesheet') return;
    pending.push(
      (async () => {
        const response = await request.response();
        if (!response) return;
        const sizes = await request.sizes();
        const body = await response.body();
        files.push({ url: new URL(request.url()).pathname, wire: sizes.responseBodySize + sizes.responseHeadersSize, gzip: zlib.gzipSync(body, { level: 9 }).length, encoding: (await response.headerValue('content-encoding')) ?? 'identity' });
      })(),
    );
  });
  await page.goto(`${base}/`, { waitUntil: 'networkidle' });
  await page.locator('#employee').waitFor();
  await Promise.all(pending);
  const wire = files.reduce((n, f) => n + f.wire, 0);
  const gzip = files.reduce((n, f) => n + f.gzip, 0);
  console.log(`first screen (sign-in, cold cache): ${files.length} JS/CSS files`);
  for (const f of files.sort((a, b) => b.gzip - a.gzip)) console.log(`  ${f.url.padEnd(56)} wire ${kb(f.wire).padStart(9)} (${f.encoding})  gzip ${kb(f.gzip).padStart(9)}`);
  console.log(`  total: on the wire ${kb(wire)}, gzip -9 ${kb(gzip)}  (target ≤ 150 KB gzip: ${gzip <= 150 * 1024 ? 'met' : 'NOT met'})`);

  // 2. Photo → verdict on screen, against the API alone.
  const kits = (await call('GET', '/api/v1/toolkits?limit=500')).items as Array<{ id: number; name: string; items: Array<{ tool_id: number; quantity: number }> }>;
  const reference = kits.find((k) => k.name === REFERENCE_KIT_NAME)!;
  const items = reference.items.map((i) => ({ tool_id: i.tool_id, quantity: i.quantity }));
  const uiKits: number[] = [];
  const apiKits: number[] = [];
  for (let i = 0; i < rounds; i++) {
    uiKits.push((await call('POST', '/api/v1/toolkits', { name: `bench UI ${i}`, items })).id);
    apiKits.push((await call('POST', '/api/v1/toolkits', { name: `bench API ${i}`, items })).id);
  }
  const engineer = await call('POST', '/api/v1/users', { employee_number: 'B-1', full_name: 'Бенч Инженер', role: 'engineer', password: 'bench-engineer-1' });
  const photo = (await renderScene({ seed: 920_000, kit: 'full' })).jpeg;
  const photoFile = path.join(dir, 'kit.jpg');
  fs.writeFileSync(photoFile, photo);

  await page.locator('#employee').fill('admin');
  await page.locator('#password').fill(ADMIN_PASSWORD);
  await page.locator('#password').press('Enter');
  await page.waitForURL(/\/counter/);

  const viaApi = async (kitId: number) => {
    const form = new FormData();
    form.append('toolkit_id', String(kitId));
    form.append('operation_type', 'checkout');
    form.append('engineer_id', String(engineer.id));
    form.append('image', new Blob([new Uint8Array(photo)], { type: 'image/jpeg' }), 'kit.jpg');
    const t0 = performance.now();
    const res = await fetch(`${base}/api/v1/operations`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
    const body = await res.json();
    const ms = performance.now() - t0;
    if (res.status !== 201) throw new Error(`API checkout: ${res.status} ${JSON.stringify(body)}`);
    return ms;
  };
  const viaUi = async (kitId: number) => {
    await page.locator('#engineer').fill('B-1');
    await page.locator('#engineer').press('Enter');
    await page.getByTestId('engineer-chosen').waitFor();
    await page.locator(`input[name="kit"][value="${kitId}"]`).check();
    await page.getByTestId('photo-file').setInputFiles(photoFile);
    await page.locator('figure img').waitFor();
    // Timed inside the page: from the press to the verdict in the document.
    const ms = await page.evaluate(
      () =>
        new Promise<number>((resolve) => {
          const t0 = performance.now();
          const observer = new MutationObserver(() => {
            if (document.querySelector('[data-testid="result"] [data-status]')) {
              observer.disconnect();
              resolve(performance.now() - t0);
            }
          });
          observer.observe(document.body, { childList: true, subtree: true });
          document.querySelector<HTMLButtonElement>('[data-testid="submit"]')!.click();
        }),
    );
    await page.keyboard.press('Escape');
    return ms;
  };

  await viaApi(apiKits[0]!); // warm-up: first inference, first connection
  await viaUi(uiKits[0]!);
  const ui: number[] = [];
  const apiOnly: number[] = [];
  for (let i = 1; i < rounds; i++) {
    apiOnly.push(await viaApi(apiKits[i]!));
    ui.push(await viaUi(uiKits[i]!));
  }
  console.log(`\nphoto → verdict, ${ui.length} rounds after a warm-up (${(photo.length / 1024).toFixed(0)} KB JPEG, 1 engineer, checkout):`);
  console.log(`  API alone (POST /api/v1/operations from Node): median ${median(apiOnly).toFixed(0)} ms  [${apiOnly.map((x) => x.toFixed(0)).join(', ')}]`);
  console.log(`  web app (press → verdict on screen):           median ${median(ui).toFixed(0)} ms  [${ui.map((x) => x.toFixed(0)).join(', ')}]`);
  const ratio = median(ui) / median(apiOnly);
  console.log(`  ratio ${ratio.toFixed(3)}  (target ≤ 1.15: ${ratio <= 1.15 ? 'met' : 'NOT met'})`);
  await context.close();
} finally {
  await browser.close();
  await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
