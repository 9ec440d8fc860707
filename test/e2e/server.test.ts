/**
 * The real process, started with `npm start` on an empty DATA_DIR: it creates its
 * embedded database, serves health and docs over HTTP, stops on SIGTERM, and finds
 * its data again after a restart; a client following a job's events does not hold up its stop.
 */
import path from 'node:path';
import { Redis } from 'ioredis';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/config/index.js';
import { tempDir } from '../helpers/config.js';
import { ownRedisDatabase, TEST_REDIS_URL } from '../helpers/databases.js';
import { startEntry } from '../helpers/entry-process.js';
import { freePort, startServer } from '../helpers/server-process.js';

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

// With Redis and no worker the job stays queued: its event stream stays open until the server ends it.
describe.skipIf(!TEST_REDIS_URL)('server process with a client on a job event stream', () => {
  it('ends the stream with a shutdown event and exits 0 within a few seconds of SIGTERM', async () => {
    const tmp = tempDir('toolcontrol-sse-');
    const redisUrl = new URL(await ownRedisDatabase(1));
    const redis = new Redis(redisUrl.toString());
    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    const server = startEntry('src/main.ts', {
      HOST: '127.0.0.1',
      PORT: String(port),
      DATA_DIR: path.join(tmp.dir, 'data'),
      REDIS_URL: redisUrl.toString(),
      MODEL_PATH: path.join(PROJECT_ROOT, 'test/fixtures/onnx/detect.onnx'),
      ADMIN_PASSWORD: 'sse-admin-password',
      JWT_SECRET: 'sse-test-secret-sse-test-secret-0123456789',
    });
    const events = new AbortController();
    try {
      await server.waitFor('Server listening', 60_000);
      const login = await fetch(`${baseUrl}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ employee_number: 'admin', password: 'sse-admin-password' }),
      }).then((r) => r.json());
      const auth = { authorization: `Bearer ${login.access_token}` };
      const kitId = (await fetch(`${baseUrl}/api/v1/toolkits`, { headers: auth }).then((r) => r.json())).items[0].id;
      const photo = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#808080' } }).jpeg().toBuffer();
      const form = new FormData();
      form.append('toolkit_id', String(kitId));
      form.append('images', new Blob([new Uint8Array(photo)], { type: 'image/jpeg' }), 'a.jpg');
      const submitted = await fetch(`${baseUrl}/api/v1/jobs`, { method: 'POST', headers: auth, body: form });
      expect(submitted.status, await submitted.clone().text()).toBe(202);
      const { events_url: eventsUrl } = await submitted.json();

      const stream = await fetch(`${baseUrl}${eventsUrl}`, { headers: auth, signal: events.signal });
      expect(stream.status).toBe(200);
      const reader = stream.body!.getReader();
      const decoder = new TextDecoder();
      let received = '';
      let cut: Error | null = null;
      const read = async () => {
        try {
          const { value, done } = await reader.read();
          if (value) received += decoder.decode(value, { stream: true });
          return done;
        } catch (err) {
          cut = err as Error; // the connection dropped when the process exited
          return true;
        }
      };
      while (!received.includes('event: progress')) expect(await read()).toBe(false);
      expect(received).toContain('"state":"queued"');

      const started = Date.now();
      server.child.kill('SIGTERM');
      // The stream ends (rather than the connection being cut) with a last event.
      while (!(await read()));
      const { code } = await server.exited;
      const elapsed = Date.now() - started;
      expect({ code, elapsed: elapsed < 5_000 }, server.output()).toEqual({ code: 0, elapsed: true });
      expect(cut).toBeNull();
      expect(received).toMatch(/event: shutdown\ndata: .*reconnect/);
      expect(server.output()).toContain('server stopped');
    } finally {
      events.abort();
      server.kill();
      await server.exited;
      await redis.flushdb().catch(() => undefined);
      redis.disconnect();
      tmp.cleanup();
    }
  }, 120_000);
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
