/**
 * `npm run migrate` as a deployment runs it: a child process against an empty PostgreSQL
 * database (DATABASE_URL or the seed's DB_* variables) and against PGlite in DATA_DIR.
 */
import { spawn } from 'node:child_process';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/config/index.js';
import { tempDir } from '../helpers/config.js';
import { createPostgresDatabase, TEST_DATABASE_URL } from '../helpers/databases.js';
import { freePort } from '../helpers/server-process.js';

const STRIPPED = ['DATABASE_URL', 'DB_HOST', 'DB_PORT', 'DB_NAME', 'DB_USER', 'DB_PASSWORD', 'DATA_DIR', 'LOG_LEVEL'];

function runMigrate(env: Record<string, string>, args: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !STRIPPED.includes(k)));
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '--silent', 'migrate', '--', ...args], {
      cwd: PROJECT_ROOT,
      env: { ...base, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function tables(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ table_name: string }>(
      "select table_name from information_schema.tables where table_schema = 'public' order by 1",
    );
    return rows.map((r) => r.table_name);
  } finally {
    await client.end();
  }
}

const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

describe.skipIf(!TEST_DATABASE_URL)('npm run migrate on PostgreSQL', () => {
  it('creates the schema on an empty database, then reports it up to date', async () => {
    const { url, drop } = await createPostgresDatabase();
    cleanups.push(drop);
    expect(await tables(url)).toEqual([]);

    const first = await runMigrate({ DATABASE_URL: url });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/applying \d+ migration\(s\): 0000_init/);
    expect(first.stdout).toMatch(/done in \d+ ms/);
    expect(first.stdout).not.toContain(new URL(url).password || '\u0000');
    expect(await tables(url)).toEqual(expect.arrayContaining(['operations', 'toolkits', 'tools', 'users', 'predictions']));

    const second = await runMigrate({ DATABASE_URL: url });
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('up to date');

    const status = await runMigrate({ DATABASE_URL: url }, ['--status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/applied\s+0000_init/);
  });

  it('accepts the seed variables DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD', async () => {
    const { url, drop } = await createPostgresDatabase();
    cleanups.push(drop);
    const parsed = new URL(url);
    const pending = await runMigrate(
      {
        DB_HOST: parsed.hostname,
        DB_PORT: parsed.port || '5432',
        DB_NAME: parsed.pathname.slice(1),
        DB_USER: decodeURIComponent(parsed.username || 'postgres'),
        ...(parsed.password ? { DB_PASSWORD: decodeURIComponent(parsed.password) } : {}),
      },
      ['--status'],
    );
    expect(pending.code).toBe(3);
    expect(pending.stdout).toMatch(/pending\s+0000_init/);
    expect(await tables(url)).toEqual([]);
  });
});

describe('npm run migrate', () => {
  it('migrates the embedded PGlite in DATA_DIR', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const first = await runMigrate({ DATA_DIR: tmp.dir });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('embedded PGlite');
    expect(first.stdout).toContain('0000_init');
    const status = await runMigrate({ DATA_DIR: tmp.dir }, ['--status']);
    expect(status.code).toBe(0);
  });

  it('exits 1 with the target named when the database does not answer', async () => {
    const port = await freePort();
    const result = await runMigrate({ DATABASE_URL: `postgres://u:secret@127.0.0.1:${port}/x` });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`127.0.0.1:${port}`);
    expect(result.stderr + result.stdout).not.toContain('secret');
  });

  it('exits 2 on invalid configuration', async () => {
    const result = await runMigrate({ DATABASE_URL: 'mysql://nope' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('DATABASE_URL');
  });
});
