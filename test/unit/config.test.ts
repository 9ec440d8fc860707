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

  it('KIT_OVERDUE_HOURS: 12 by default, a positive number; WEB_DIR: web/build of the project, relative to it', () => {
    expect(loadConfig({}).kitOverdueHours).toBe(12);
    expect(loadConfig({ KIT_OVERDUE_HOURS: '0.5' }).kitOverdueHours).toBe(0.5);
    for (const bad of ['0', '-1', 'soon', '100000']) expect(() => loadConfig({ KIT_OVERDUE_HOURS: bad })).toThrow(/KIT_OVERDUE_HOURS/);
    expect(loadConfig({}, '/srv/app').webDir).toBe(path.join(PROJECT_ROOT, 'web/build'));
    expect(loadConfig({ WEB_DIR: 'dist/web' }, '/srv/app').webDir).toBe(path.join(PROJECT_ROOT, 'dist/web'));
    expect(loadConfig({ WEB_DIR: '/opt/web' }).webDir).toBe('/opt/web');
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

function problemsOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig problems', () => {
  it('never prints secrets, and prints URLs with their password hidden', () => {
    const error = problemsOf({
      JWT_SECRET: 'mysecretjwt',
      ADMIN_PASSWORD: 'hunter2',
      METRICS_TOKEN: 'tok3n',
      DATABASE_URL: 'postgresql+asyncpg://u:Sup3rS3cret@db/x',
      REDIS_URL: 'http://:r3disPass@cache:6379/0',
      INFERENCE_URL: 'ftp://svc:inf3rP@triton:8000',
      PORT: 'eighty',
    });
    for (const secret of ['mysecretjwt', 'hunter2', 'tok3n', 'Sup3rS3cret', 'r3disPass', 'inf3rP']) {
      expect(error.message).not.toContain(secret);
    }
    expect(error.message).toContain('postgresql+asyncpg://u:***@db/x');
    expect(error.message).toContain('http://:***@cache:6379/0');
    expect(error.message).toContain('ftp://svc:***@triton:8000');
    expect(error.problems.find((p) => p.startsWith('JWT_SECRET:'))).toMatch(/32/);
    // Values of other variables still help.
    expect(error.message).toContain('"eighty"');
  });

  it('hides a password in a URL even when it holds an @ or the URL has no scheme', () => {
    const error = problemsOf({ DATABASE_URL: 'mysql://u:p@ss@db/x', REDIS_URL: 'u:pw0rd@cache' });
    expect(error.message).not.toMatch(/p@ss|ss@db|pw0rd/);
    expect(error.message).toContain('mysql://u:***@db/x');
  });

  it('reports every invalid variable, one line each, and lists the allowed values of a choice', () => {
    const error = problemsOf({
      PORT: 'eighty',
      LOG_LEVEL: 'loud',
      DATABASE_URL: 'mysql://x',
      REDIS_URL: 'memcached://x',
      JWT_SECRET: 'short',
      ADMIN_PASSWORD: 'short',
      TRUST_PROXY: 'maybe',
      DEFAULT_CONFIDENCE: '2',
      MATCH_THRESHOLD: '101',
      NMS_IOU: '0',
      MAX_UPLOAD_BYTES: '10',
      INFERENCE_SESSIONS: '0',
    });
    const fields = error.problems.map((p) => p.split(':')[0]);
    expect(fields).toEqual([
      'PORT',
      'DATABASE_URL',
      'REDIS_URL',
      'JWT_SECRET',
      'ADMIN_PASSWORD',
      'LOG_LEVEL',
      'TRUST_PROXY',
      'DEFAULT_CONFIDENCE',
      'MATCH_THRESHOLD',
      'NMS_IOU',
      'MAX_UPLOAD_BYTES',
      'INFERENCE_SESSIONS',
    ]);
    expect(error.problems).toContain('LOG_LEVEL: must be one of: fatal, error, warn, info, debug, trace, silent (got "loud")');
    expect(error.message).not.toContain('must be equal to constant');
  });

  it('refuses DB_* or REDIS_* settings without their host instead of falling back silently', () => {
    expect(problemsOf({ DB_PASSWORD: 'pw' }).problems).toEqual([
      'DB_PASSWORD is set but DB_HOST is not: set DB_HOST (or DATABASE_URL) to use PostgreSQL',
    ]);
    for (const key of ['DB_NAME', 'DB_USER', 'DB_PORT']) {
      expect(problemsOf({ [key]: key === 'DB_PORT' ? '5433' : 'x' }).problems).toEqual([
        `${key} is set but DB_HOST is not: set DB_HOST (or DATABASE_URL) to use PostgreSQL`,
      ]);
    }
    expect(problemsOf({ DB_HOST: '', DB_NAME: 'tools', DB_USER: 'svc' }).problems).toEqual([
      'DB_NAME and DB_USER are set but DB_HOST is not: set DB_HOST (or DATABASE_URL) to use PostgreSQL',
    ]);
    expect(problemsOf({ REDIS_PASSWORD: 'pw', REDIS_PORT: '6380', REDIS_DB: '1' }).problems).toEqual([
      'REDIS_PORT, REDIS_PASSWORD and REDIS_DB are set but REDIS_HOST is not: set REDIS_HOST (or REDIS_URL) to use Redis',
    ]);
    const withUrls = loadConfig({
      DATABASE_URL: 'postgres://a:b@pg/c',
      DB_PASSWORD: 'pw',
      REDIS_URL: 'redis://cache:6379/0',
      REDIS_PASSWORD: 'pw',
    });
    expect(withUrls.databaseUrl).toBe('postgres://a:b@pg/c');
    expect(withUrls.redisUrl).toBe('redis://cache:6379/0');
  });
});
