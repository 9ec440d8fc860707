import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, PROJECT_ROOT } from '../../src/config/index.js';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({}, '/srv/app');
    expect(config.port).toBe(8000);
    expect(config.dataDir).toBe('/srv/app/data');
    expect(config.mediaDir).toBe('/srv/app/data/media');
    expect(config.databaseUrl).toBeNull();
    expect(config.redisUrl).toBeNull();
    expect(config.model.path).toBe(path.join(PROJECT_ROOT, 'models/toolcontrol-yolo.onnx'));
    expect(config.admin).toEqual({ employeeNumber: 'admin', password: null });
    expect(config.recognition.defaultConfidence).toBe(0.5);
    expect(config.recognition.matchThreshold).toBe(95);
    expect(config.corsOrigins).toBeNull();
    expect(config.trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(config.model).toMatchObject({ sessions: 1, threads: null });
    expect(loadConfig({ INFERENCE_SESSIONS: '2', INFERENCE_THREADS: '1' }).model).toMatchObject({ sessions: 2, threads: 1 });
    expect(loadConfig({}).model.spin).toBeNull();
    expect(loadConfig({ INFERENCE_SPIN: 'false' }).model.spin).toBe(false);
    expect(() => loadConfig({ INFERENCE_SESSIONS: '0' })).toThrow(/INFERENCE_SESSIONS/);
  });

  it('reports every problem at once', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud', JWT_SECRET: 'short' });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const fields = error!.problems.map((p) => p.split(':')[0]);
    expect(fields).toEqual(expect.arrayContaining(['PORT', 'DATABASE_URL', 'LOG_LEVEL', 'JWT_SECRET']));
    expect(error!.message).toContain('"eighty"');
  });

  it('treats empty values as unset', () => {
    expect(loadConfig({ PORT: '', REDIS_URL: '' }).port).toBe(8000);
  });

  it("accepts the seed's DB_* and REDIS_* variables", () => {
    const config = loadConfig({
      DB_HOST: 'db',
      DB_NAME: 'tools',
      DB_USER: 'svc',
      DB_PASSWORD: 'p@ss',
      REDIS_HOST: 'redis',
      REDIS_PASSWORD: 'secret',
      REDIS_DB: '2',
    });
    expect(config.databaseUrl).toBe('postgres://svc:p%40ss@db:5432/tools');
    expect(config.redisUrl).toBe('redis://:secret@redis:6379/2');
  });

  it('prefers DATABASE_URL over DB_*', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://a@b/c', DB_HOST: 'db' });
    expect(config.databaseUrl).toBe('postgres://a@b/c');
  });

  it('parses CORS origins and freezes the result', () => {
    const config = loadConfig({ CORS_ORIGINS: 'https://a.example, https://b.example' });
    expect(config.corsOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(loadConfig({ CORS_ORIGINS: '*' }).corsOrigins).toBe('*');
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.recognition)).toBe(true);
  });

  it('refuses a review floor above the default confidence', () => {
    expect(() => loadConfig({ REVIEW_FLOOR: '0.6', DEFAULT_CONFIDENCE: '0.5' })).toThrow(/REVIEW_FLOOR/);
  });
});
