import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../../src/config/index.js';

export const TEST_ADMIN = { employeeNumber: 'admin', password: 'admin-test-password' };

/** A fresh temporary folder, removed by the returned cleanup. */
export function tempDir(prefix = 'toolcontrol-test-'): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Config as the service would load it, with test-friendly defaults. */
export function testConfig(env: Record<string, string | undefined> = {}): Readonly<Config> {
  return loadConfig({
    LOG_LEVEL: 'silent',
    ADMIN_EMPLOYEE_NUMBER: TEST_ADMIN.employeeNumber,
    ADMIN_PASSWORD: TEST_ADMIN.password,
    JWT_SECRET: 'test-secret-test-secret-test-secret-0123456789',
    ...env,
  });
}
