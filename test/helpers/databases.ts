/**
 * Test databases: in-memory PGlite always; a fresh PostgreSQL database per call
 * when TEST_DATABASE_URL is set (so runs and files never collide).
 */
import crypto from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { pino } from 'pino';
import { openDatabase, type Database } from '../../src/db/client.js';
import { toolkits, users } from '../../src/db/schema/index.js';
import { seedDefaults } from '../../src/db/seed.js';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || null;
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL || null;

export type Backend = 'pglite' | 'postgres';

/** The backends this run can use: PGlite, plus PostgreSQL when TEST_DATABASE_URL is set. */
export const BACKENDS: Backend[] = TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];

export const silentLogger = pino({ level: 'silent' });

/** Create an empty PostgreSQL database; returns its URL and a drop function. */
export async function createPostgresDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  if (!TEST_DATABASE_URL) throw new Error('TEST_DATABASE_URL is not set');
  const name = `toolcontrol_test_${process.pid}_${crypto.randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

/** An open, empty (unmigrated) database of the given backend, and how to dispose of it. */
export async function openTestDatabase(backend: Backend): Promise<{ database: Database; url: string | null; dispose: () => Promise<void> }> {
  if (backend === 'pglite') {
    const database = await openDatabase({ url: null, pgliteDir: null, logger: silentLogger });
    return { database, url: null, dispose: () => database.close() };
  }
  const { url, drop } = await createPostgresDatabase();
  const database = await openDatabase({ url, pgliteDir: null, logger: silentLogger, poolSize: 4 });
  return {
    database,
    url,
    async dispose() {
      await database.close();
      await drop();
    },
  };
}

/**
 * A migrated database with the default data (11 tools, the reference kit, an admin), and
 * the ids repository tests hang their rows on: the admin and the reference kit.
 */
export async function openSeededDatabase(
  backend: Backend,
): Promise<{ database: Database; dispose: () => Promise<void>; adminId: number; toolkitId: number }> {
  const { database, dispose } = await openTestDatabase(backend);
  await database.migrate();
  await seedDefaults(database.db, { admin: { employeeNumber: 'admin', password: 'admin-password' }, logger: silentLogger });
  const adminId = (await database.db.select().from(users).limit(1))[0]!.id;
  const toolkitId = (await database.db.select().from(toolkits).limit(1))[0]!.id;
  return { database, dispose, adminId, toolkitId };
}

/**
 * A Redis database index of this test file's own (1–12; 0 is shared by the in-process
 * tests, 13–15 belong to bench:jobs), emptied: queues of files running at once stay apart.
 */
export async function ownRedisDatabase(index: number): Promise<string> {
  if (!TEST_REDIS_URL) throw new Error('TEST_REDIS_URL is not set');
  if (!(Number.isInteger(index) && index >= 1 && index <= 12)) throw new Error(`Redis database index ${index} is not in 1–12`);
  const url = new URL(TEST_REDIS_URL);
  url.pathname = `/${index}`;
  await flushRedisDatabase(url.toString());
  return url.toString();
}

/** Empties the Redis database at `url` (a test's own, from ownRedisDatabase). */
export async function flushRedisDatabase(url: string): Promise<void> {
  const redis = new Redis(url);
  try {
    await redis.flushdb();
  } finally {
    redis.disconnect();
  }
}
