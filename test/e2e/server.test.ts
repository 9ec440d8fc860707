/**
 * The real process, started with `npm start` on an empty DATA_DIR: it creates its
 * embedded database, serves health and docs over HTTP, stops on SIGTERM, and finds
 * its data again after a restart.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/config.js';
import { startServer } from '../helpers/server-process.js';

describe('server process', () => {
  it('starts on an empty data folder, serves HTTP, stops cleanly and keeps its data', async () => {
    const tmp = tempDir();
    const env = { DATA_DIR: path.join(tmp.dir, 'data', 'nested'), ADMIN_PASSWORD: 'e2e-admin-password' };
    try {
      const first = await startServer(env);
      const health = await fetch(`${first.baseUrl}/base/health`).then((r) => r.json());
      expect(health.postgres).toMatchObject({ ok: true, kind: 'pglite' });
      expect(health.redis).toBe('not_configured');

      const docs = await fetch(`${first.baseUrl}/docs/`);
      expect(docs.status).toBe(200);
      const openapi = await fetch(`${first.baseUrl}/openapi.json`).then((r) => r.json());
      expect(openapi.paths['/base/health']).toBeDefined();

      // Data written by the first process.
      const kits = await listKits(first.baseUrl);
      expect(first.output()).toContain('default tools and reference kit created');
      expect(await first.stop()).toBe(true);

      const second = await startServer(env);
      try {
        expect(second.output()).not.toContain('default tools and reference kit created');
        if (kits !== null) expect(await listKits(second.baseUrl)).toEqual(kits);
        // A second process on the same folder is refused with a clear message.
        await expect(startServer(env, { timeoutMs: 30_000 })).rejects.toThrow(/in use by another toolcontrol process/);
      } finally {
        expect(await second.stop()).toBe(true);
      }
    } finally {
      tmp.cleanup();
    }
  });
});

/** The kit list as the admin sees it, or null while the workflow API does not exist yet. */
async function listKits(baseUrl: string): Promise<unknown> {
  const login = await fetch(`${baseUrl}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ employee_number: 'admin', password: 'e2e-admin-password' }),
  });
  if (login.status === 404) return null;
  const { access_token } = await login.json();
  return fetch(`${baseUrl}/api/v1/toolkits`, { headers: { authorization: `Bearer ${access_token}` } }).then((r) => r.json());
}
