import path from 'node:path';
import type { Config } from '../../src/config/index.js';
import { createApp, type App } from '../../src/app.js';
import type { DepsOverrides } from '../../src/deps.js';
import { TEST_ADMIN, tempDir, testConfig } from './config.js';
import { openTestDatabase, silentLogger, type Backend } from './databases.js';

export interface TestApp extends App {
  config: Readonly<Config>;
  /** Log in and return an access token. */
  login(employeeNumber?: string, password?: string): Promise<string>;
}

/**
 * The app as main builds it, on a throwaway database (PGlite in memory, or a fresh
 * PostgreSQL database) and a temporary DATA_DIR. No model unless one is passed.
 */
export async function buildTestApp(
  options: { backend?: Backend; env?: Record<string, string>; overrides?: DepsOverrides } = {},
): Promise<TestApp> {
  const tmp = tempDir();
  const { database, dispose } = await openTestDatabase(options.backend ?? 'pglite');
  // No web app unless a test builds one: the suite must not depend on whether web/ was built here.
  const config = testConfig({ DATA_DIR: tmp.dir, WEB_DIR: path.join(tmp.dir, 'no-web-app'), ...options.env });
  let built: App;
  try {
    built = await createApp(config, { logger: silentLogger, database, detector: null, ...options.overrides });
  } catch (err) {
    await dispose();
    tmp.cleanup();
    throw err;
  }
  return {
    ...built,
    config,
    async login(employeeNumber = TEST_ADMIN.employeeNumber, password = TEST_ADMIN.password) {
      const res = await built.app.inject({ method: 'POST', url: '/auth/login', payload: { employee_number: employeeNumber, password } });
      if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`);
      return res.json().access_token as string;
    },
    async close() {
      await built.close();
      await dispose();
      tmp.cleanup();
    },
  };
}
