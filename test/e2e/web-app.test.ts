/**
 * The tool-room web app in real Chromium against a real server process (`npm start`) with
 * the default model and rendered kit photos: sign-in, the counter's checkout and checkin,
 * the kits board, the review queue, an operation's audit, history filters, and an
 * engineer who sees only their own. axe-core checks every screen; a screenshot of each at
 * desktop and tablet width lands in test-results/web/.
 */
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/config/index.js';
import { REFERENCE_KIT_NAME } from '../../src/db/seed.js';
import { renderScene } from '../../src/synth/scene.js';
import { launchChromium, screenshots, seriousA11yViolations, VIEWPORTS } from '../helpers/browser.js';
import { tempDir } from '../helpers/config.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

const SHOTS = path.join(PROJECT_ROOT, 'test-results/web');
const ADMIN_PASSWORD = 'web-admin-password';
const ENGINEER = { employee_number: '10234', full_name: 'Иванов Иван Иванович', role: 'engineer', password: 'engineer-pass-1' };
const OTHER_ENGINEER = { employee_number: '10777', full_name: 'Сидоров Пётр', role: 'engineer', password: 'engineer-pass-2' };
const LETTERED_ENGINEER = { employee_number: 'E-1042', full_name: 'Кузнецов Олег', role: 'engineer', password: 'engineer-pass-3' };
const STOREKEEPER = { employee_number: 'S-01', full_name: 'Петрова Анна', role: 'storekeeper', password: 'store-pass-01' };

describe('tool-room web app in Chromium', () => {
  const tmp = tempDir();
  let server: ServerProcess;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const problems: string[] = [];
  let adminToken: string;
  let kitId: number;
  let engineerId: number;
  let checkoutId: number;
  let checkinId: number;
  let fullKit: Buffer;
  let withoutPliers: Buffer;

  const api = async (method: string, url: string, body?: unknown, token = adminToken) => {
    const res = await fetch(`${server.baseUrl}${url}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body instanceof FormData || !body ? {} : { 'content-type': 'application/json' }) },
      body: body instanceof FormData ? body : body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
  };

  /** A browser session of its own (cookies apart), failing the test on CSP violations and page errors. */
  async function newPage(): Promise<Page> {
    const context = await browser.newContext({ viewport: VIEWPORTS.desktop, locale: 'ru-RU', timezoneId: 'Europe/Moscow' });
    contexts.push(context);
    const page = await context.newPage();
    page.on('console', (msg) => {
      if (/Content Security Policy|Refused to/i.test(msg.text())) problems.push(`CSP: ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    return page;
  }

  async function check(page: Page, name: string) {
    await screenshots(page, SHOTS, name);
    const violations = await seriousA11yViolations(page);
    expect(violations, `${name}: ${JSON.stringify(violations, null, 1)}`).toEqual([]);
  }

  async function signIn(page: Page, employeeNumber: string, password: string) {
    await page.goto(`${server.baseUrl}/`);
    await page.waitForURL(/\/login/);
    // A badge scanner types the number and Enter: the focus goes on to the password.
    await page.locator('#employee').fill(employeeNumber);
    await page.locator('#employee').press('Enter');
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('password');
    await page.locator('#password').fill(password);
    await page.locator('#password').press('Enter');
    await page.waitForURL(/\/counter/);
  }

  async function counterOperation(page: Page, photo: Buffer, name: string, submitBy: 'click' | 'keyboard' = 'click') {
    await page.locator('#engineer').fill(ENGINEER.employee_number);
    await page.locator('#engineer').press('Enter');
    await expect(page.getByTestId('engineer-chosen').textContent()).resolves.toContain(ENGINEER.full_name);
    // At checkin the one kit the engineer holds is already chosen.
    if (submitBy === 'click') await page.locator(`input[name="kit"][value="${kitId}"]`).check();
    else expect(await page.locator(`input[name="kit"][value="${kitId}"]`).isChecked()).toBe(true);
    await page.getByTestId('photo-file').setInputFiles({ name: `${name}.jpg`, mimeType: 'image/jpeg', buffer: photo });
    await page.locator('figure img').waitFor();
    await check(page, `counter-${name}-ready`);
    if (submitBy === 'click') await page.getByTestId('submit').click();
    else {
      // Keyboard only: from the kit, Tab reaches the submit button and Enter presses it.
      await page.locator('input[name="kit"]:checked').focus();
      for (let i = 0; i < 10 && (await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))) !== 'submit'; i++) await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('submit');
      await page.keyboard.press('Enter');
    }
    await page.getByTestId('result').waitFor({ timeout: 30_000 });
    await page.locator('[data-testid="result"] img').waitFor();
  }

  beforeAll(async () => {
    // A shift of two seconds, so the board shows a held kit overdue within the test.
    server = await startServer({ DATA_DIR: path.join(tmp.dir, 'data'), ADMIN_PASSWORD, LOG_LEVEL: 'warn', KIT_OVERDUE_HOURS: String(2 / 3600) }, { timeoutMs: 90_000 });
    const login = await fetch(`${server.baseUrl}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ employee_number: 'admin', password: ADMIN_PASSWORD }),
    });
    adminToken = (await login.json()).access_token;
    const engineer = await api('POST', '/api/v1/users', ENGINEER);
    expect(engineer.status).toBe(201);
    engineerId = engineer.body.id;
    expect((await api('POST', '/api/v1/users', OTHER_ENGINEER)).status).toBe(201);
    expect((await api('POST', '/api/v1/users', LETTERED_ENGINEER)).status).toBe(201);
    expect((await api('POST', '/api/v1/users', STOREKEEPER)).status).toBe(201);
    const kits = await api('GET', '/api/v1/toolkits');
    kitId = kits.body.items.find((k: { name: string }) => k.name === REFERENCE_KIT_NAME).id;
    // Seeds the default model gets right (as in the workflow and recognition tests).
    fullKit = (await renderScene({ seed: 920_000, kit: 'full' })).jpeg;
    withoutPliers = (await renderScene({ seed: 910_002, kit: 'full', without: ['pliers'] })).jpeg;
    browser = await launchChromium();
  }, 180_000);

  // Every test: no Content-Security-Policy violation, no uncaught error in any page.
  afterEach(() => {
    const seen = problems.splice(0);
    expect(seen).toEqual([]);
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await server?.stop();
    tmp.cleanup();
  });

  it('serves the app to a browser and JSON to API clients at /', async () => {
    const html = await fetch(`${server.baseUrl}/`, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    expect(html.headers.get('content-type')).toContain('text/html');
    expect(html.headers.get('content-security-policy')).toContain("default-src 'self'");
    const json = await fetch(`${server.baseUrl}/`);
    expect((await json.json()).name).toBe('toolcontrol');
  });

  it('the storekeeper checks the reference kit out with a full-kit photo', async () => {
    const page = await newPage();
    await page.goto(`${server.baseUrl}/`);
    await page.waitForURL(/\/login/);
    await check(page, 'login');
    await signIn(page, STOREKEEPER.employee_number, STOREKEEPER.password);
    await check(page, 'counter');
    // A misread badge (a number that only partly matches, digits or not) never picks someone else.
    for (const misread of [ENGINEER.employee_number.slice(0, 4), LETTERED_ENGINEER.employee_number.slice(0, 5)]) {
      await page.locator('#engineer').fill(misread);
      await page.locator('#engineer').press('Enter');
      await page.getByText('Выберите инженера из списка').waitFor();
      expect(await page.getByTestId('engineer-chosen').count()).toBe(0);
    }

    await counterOperation(page, fullKit, 'checkout');
    const verdict = page.locator('[data-testid="result"] [data-status]').first();
    await expect(verdict.getAttribute('data-status')).resolves.toBe('success');
    await expect(verdict.textContent()).resolves.toMatch(/Выдано — комплект полный/i);
    expect(await page.locator('tr[data-state="found"]').count()).toBe(11);
    // The next engineer in the queue: the focus is back in the engineer field.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('engineer');
    await check(page, 'counter-checkout-result');
    await screenshots(page, SHOTS, 'counter-checkout-result', ['phone']);
    checkoutId = Number((await page.getByRole('link', { name: 'Открыть операцию' }).getAttribute('href'))!.split('/').pop());

    const held = await api('GET', `/api/v1/toolkits/${kitId}`);
    expect(held.body.holder.id).toBe(engineerId);
  });

  it('checks it in without the pliers: a discrepancy naming «Пассатижи», lost since checkout', async () => {
    const page = await newPage();
    await signIn(page, STOREKEEPER.employee_number, STOREKEEPER.password);
    await counterOperation(page, withoutPliers, 'checkin', 'keyboard');
    const verdict = page.locator('[data-testid="result"] [data-status]').first();
    await expect(verdict.getAttribute('data-status')).resolves.toBe('discrepancy');
    await expect(verdict.textContent()).resolves.toContain('Пассатижи');
    const pliers = page.locator('tr[data-tool="pliers"]');
    await expect(pliers.getAttribute('data-state')).resolves.toBe('missing');
    await expect(pliers.textContent()).resolves.toContain('Пропал после выдачи');
    await check(page, 'counter-checkin-result');
    checkinId = Number((await page.getByRole('link', { name: 'Открыть операцию' }).getAttribute('href'))!.split('/').pop());
    expect(checkinId).toBeGreaterThan(checkoutId);

    // The annotated photo zooms to full size and back.
    const zoom = page.locator('[data-testid="result"] button[aria-pressed]');
    await zoom.click();
    expect(await zoom.getAttribute('aria-pressed')).toBe('true');
    await zoom.click();
    expect(await zoom.getAttribute('aria-pressed')).toBe('false');

    await page.getByRole('link', { name: 'Наборы' }).click();
    await page.getByTestId('kits-board').waitFor();
    await expect(page.locator(`li[data-kit="${kitId}"] [data-flag="flagged"]`).count()).resolves.toBe(1);
    // Held longer than the shift (KIT_OVERDUE_HOURS): overdue; the filters narrow the board.
    await expect(page.locator(`li[data-kit="${kitId}"] [data-flag="overdue"]`).count()).resolves.toBe(1);
    await page.getByRole('button', { name: /Свободные/ }).click();
    await expect.poll(() => page.locator(`li[data-kit="${kitId}"]`).count()).toBe(0);
    await page.getByRole('button', { name: /С расхождением/ }).click();
    await page.locator(`li[data-kit="${kitId}"]`).waitFor();
    expect(page.url()).toContain('show=flagged');
    await page.getByRole('button', { name: /Все/ }).click();
    await expect(page.locator(`li[data-kit="${kitId}"]`).textContent()).resolves.toContain(ENGINEER.full_name);
    await check(page, 'kits');
    await page.locator(`li[data-kit="${kitId}"] h2 a`).click();
    await page.getByTestId('operations').waitFor();
    await check(page, 'kit');
  });

  it('the admin resolves it from the review queue, and the audit is on the operation page', async () => {
    const page = await newPage();
    await signIn(page, 'admin', ADMIN_PASSWORD);
    await page.getByRole('link', { name: 'Очередь проверки' }).click();
    const row = page.locator(`tr[data-operation="${checkinId}"]`);
    await row.waitFor();
    await expect(row.textContent()).resolves.toContain('Пассатижи');
    await check(page, 'reviews');

    await row.getByRole('link').click();
    await page.waitForURL(new RegExp(`/reviews/${checkinId}$`));
    await page.locator('[data-tool="pliers"]').waitFor();
    // Nothing is chosen for the reviewer: no single click records the kit as complete.
    const record = page.getByRole('button', { name: 'Записать решение' });
    expect(await page.locator('input[name="decision"]:checked').count()).toBe(0);
    expect(await record.isDisabled()).toBe(true);
    await page.locator('input[name="decision"][value="marked_missing"]').check();
    await page.locator('#count-pliers').fill('0');
    await page.locator('#note').fill('Пассатижи не вернули, составлен акт');
    await check(page, 'review');
    await page.getByRole('button', { name: 'Записать решение' }).click();

    await page.waitForURL(new RegExp(`/operations/${checkinId}`));
    const audit = page.getByTestId('audit');
    await audit.waitFor();
    await expect(audit.textContent()).resolves.toContain('Отмечено отсутствующим');
    await expect(audit.textContent()).resolves.toContain('Пассатижи не вернули, составлен акт');
    await page.locator('img').first().waitFor();
    await check(page, 'operation');

    const reviews = await api('GET', '/api/v1/reviews');
    expect(reviews.body.map((o: { id: number }) => o.id)).not.toContain(checkinId);
  });

  it('history filters narrow to exactly those operations', async () => {
    const page = await newPage();
    await signIn(page, 'admin', ADMIN_PASSWORD);
    await page.goto(`${server.baseUrl}/history`);
    await page.getByTestId('operations').waitFor();
    const ids = async () => (await page.locator('tr[data-operation]').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-operation'))))).sort();

    await page.locator('#f-user').selectOption(String(engineerId));
    await page.locator('#f-status').selectOption('discrepancy');
    await page.getByRole('button', { name: 'Показать' }).click();
    await page.waitForURL(/status=discrepancy/);
    await expect.poll(ids).toEqual([checkinId]);
    await expect(page.getByTestId('history-total').textContent()).resolves.toContain('1');

    await page.locator('#f-status').selectOption('');
    await page.locator('#f-type').selectOption('checkout');
    await page.getByRole('button', { name: 'Показать' }).click();
    await page.waitForURL(/operation_type=checkout/);
    await expect.poll(ids).toEqual([checkoutId]);
    await check(page, 'history');

    // The filters are in the URL: the same view opens from a link.
    const shared = await newPage();
    await signIn(shared, 'admin', ADMIN_PASSWORD);
    await shared.goto(page.url());
    await shared.getByTestId('operations').waitFor();
    expect(await shared.locator('tr[data-operation]').count()).toBe(1);
  });

  it('an engineer sees only their own kits and history', async () => {
    // Another engineer's operation, on a kit of their own, that the first must not see.
    const tools = await api('GET', '/api/v1/tools?limit=100');
    const pliers = tools.body.items.find((t: { class_key: string }) => t.class_key === 'pliers');
    const kit2 = await api('POST', '/api/v1/toolkits', { name: 'Набор №2', items: [{ tool_id: pliers.id, quantity: 1 }] });
    expect(kit2.status).toBe(201);
    const otherId = (await api('GET', `/api/v1/users?q=${OTHER_ENGINEER.employee_number}`)).body.items[0].id;
    const form = new FormData();
    form.append('toolkit_id', String(kit2.body.id));
    form.append('operation_type', 'checkout');
    form.append('engineer_id', String(otherId));
    form.append('image', new Blob([new Uint8Array(fullKit)], { type: 'image/jpeg' }), 'other.jpg');
    const other = await api('POST', '/api/v1/operations', form);
    expect(other.status).toBe(201);

    const page = await newPage();
    await signIn(page, ENGINEER.employee_number, ENGINEER.password);
    await expect(page.locator('h1').textContent()).resolves.toBe('Мои наборы');
    expect(await page.getByRole('link', { name: 'Очередь проверки' }).count()).toBe(0);
    // The reference kit is back in the tool room (the review closed the checkin); the other engineer's kit is not offered.
    await page.locator(`input[name="kit"][value="${kitId}"]`).waitFor();
    expect(await page.locator(`input[name="kit"][value="${kit2.body.id}"]`).count()).toBe(0);
    await check(page, 'engineer-counter');


    await page.getByRole('link', { name: 'История' }).click();
    await page.getByTestId('operations').waitFor();
    const seen = (await page.locator('tr[data-operation]').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-operation'))))).sort();
    expect(seen).toEqual([checkoutId, checkinId].sort());
    await check(page, 'engineer-history');
    await screenshots(page, SHOTS, 'engineer-history', ['phone']);

    // No connection: said on screen; back online, the banner goes.
    await page.context().setOffline(true);
    await page.locator('#f-type').selectOption('checkin');
    await page.getByRole('button', { name: 'Показать' }).click();
    await page.getByRole('alert').filter({ hasText: 'Нет связи с сервером' }).waitFor();
    await screenshots(page, SHOTS, 'offline', ['tablet']);
    await page.context().setOffline(false);
    await page.getByRole('button', { name: 'Показать' }).click();
    await expect.poll(() => page.getByRole('alert').filter({ hasText: 'Нет связи с сервером' }).count()).toBe(0);
    await expect.poll(() => page.locator('tr[data-operation]').count()).toBe(1);

    await page.getByRole('link', { name: 'Мои наборы' }).click();
    await page.locator(`input[name="kit"][value="${kitId}"]`).check();
    // A photo dropped onto the photo area is the one to send.
    const dropped = await page.evaluateHandle((bytes) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([new Uint8Array(bytes)], 'dropped.jpg', { type: 'image/jpeg' }));
      return transfer;
    }, [...fullKit.subarray(0, 2048)]);
    await page.dispatchEvent('[role="group"][aria-label="Фото"]', 'drop', { dataTransfer: dropped });
    await expect(page.locator('figcaption').textContent()).resolves.toMatch(/^dropped\.jpg, /);
    await page.getByRole('button', { name: 'Убрать фото' }).click();

    // A webcam over the counter: live preview, then a captured frame is the photo to send.
    await page.getByRole('button', { name: 'Камера над стойкой' }).click();
    await page.waitForFunction(() => (document.querySelector('video')?.readyState ?? 0) >= 2);
    await screenshots(page, SHOTS, 'camera', ['tablet']);
    await page.getByRole('button', { name: 'Снять кадр' }).click();
    await page.locator('figure img').waitFor();
    await expect(page.locator('figcaption').textContent()).resolves.toMatch(/^kit-\d+\.jpg, \d+ КБ$/);
    expect(await page.locator('video').count()).toBe(0);

    // Offline at the moment of sending: said plainly, and the kit and the photo are still there to send again.
    await page.context().setOffline(true);
    await page.getByTestId('submit').click();
    await page.getByRole('alert').filter({ hasText: 'Сервер не отвечает' }).waitFor();
    expect(await page.locator(`input[name="kit"][value="${kitId}"]`).isChecked()).toBe(true);
    expect(await page.locator('figure img').count()).toBe(1);
    await page.context().setOffline(false);
    await page.getByTestId('submit').click();
    await page.getByTestId('result').waitFor({ timeout: 30_000 });
    // A frame of Chromium's test pattern holds no tools: issued, with everything recorded missing.
    await expect(page.locator('[data-testid="result"] [data-status]').first().getAttribute('data-status')).resolves.toBe('discrepancy');
    await expect(page.getByTestId('result').textContent()).resolves.toContain('Набор выдан инженеру');

    // English is a click away; the tool names stay as the register holds them.
    await page.getByLabel('Язык').selectOption('en');
    await expect(page.locator('h1').textContent()).resolves.toBe('My kits');
  });

  it('signing out ends the session: a reload asks to sign in again', async () => {
    const page = await newPage();
    await signIn(page, ENGINEER.employee_number, ENGINEER.password);
    await page.reload();
    await page.getByTestId('current-user').waitFor(); // the refresh cookie restores the session
    expect(page.url()).toMatch(/\/counter$/);
    // Offline, signing out cannot end the session on the server: the screen says so instead of pretending.
    await page.context().setOffline(true);
    await page.getByRole('button', { name: 'Выйти' }).click();
    await page.getByText('Выход не выполнен').waitFor();
    expect(await page.getByTestId('current-user').count()).toBe(1);
    await page.context().setOffline(false);
    // A second tab of the same browser follows the sign-out instead of going on with the session.
    const other = await page.context().newPage();
    await other.goto(`${server.baseUrl}/kits`);
    await other.getByTestId('current-user').waitFor();
    await page.getByRole('button', { name: 'Выйти' }).click();
    await page.waitForURL(/\/login/);
    await other.waitForURL(/\/login/);
    await other.getByText('Сеанс завершён').waitFor();
    await page.reload();
    await page.waitForURL(/\/login/);
    await page.locator('#employee').waitFor();
  });
});
