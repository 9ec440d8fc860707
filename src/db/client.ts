/**
 * The database: embedded PGlite (file-backed, zero setup) or PostgreSQL through a
 * node-postgres pool. Both speak the same Drizzle API and run the same migrations.
 */
import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import type { Logger } from 'pino';
import * as schema from './schema/index.js';
import { PROJECT_ROOT } from '../config/index.js';

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
/** A transaction handle; repositories accept either. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
export type DbOrTx = Db | Tx;

export const MIGRATIONS_FOLDER = path.join(PROJECT_ROOT, 'src/db/migrations');

export interface Database {
  db: Db;
  kind: 'pglite' | 'postgres';
  /** Apply pending migrations (idempotent; serialised across processes on PostgreSQL). */
  migrate(): Promise<void>;
  /** Round-trip check for health: resolves with latency in ms, rejects when down. */
  ping(timeoutMs?: number): Promise<number>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** postgres:// URL; null selects PGlite. */
  url: string | null;
  /** PGlite data folder; null keeps PGlite in memory (tests). */
  pgliteDir: string | null;
  logger: Logger;
  poolSize?: number;
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  return options.url ? openPostgres(options.url, options) : openPglite(options.pgliteDir, options.logger);
}

async function openPostgres(url: string, options: DatabaseOptions): Promise<Database> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its connection (server restart) must not crash the process. Logged
  // once per outage with the target; the pool opens a new connection on the next query.
  const target = redactedTarget(url);
  let down = false;
  pool.on('error', (err) => {
    if (!down) options.logger.warn({ target, err: err.message, retry: 'reconnects on the next query' }, 'PostgreSQL connection lost');
    down = true;
  });
  pool.on('connect', () => {
    if (down) options.logger.info({ target }, 'PostgreSQL connection restored');
    down = false;
  });
  const db = drizzlePg(pool, { schema }) as unknown as Db;
  return {
    db,
    kind: 'postgres',
    async migrate() {
      // Several API processes and workers may start at once: one migrates, the others wait.
      const client = await pool.connect();
      try {
        await client.query('SELECT pg_advisory_lock(727274)');
        await migratePg(drizzlePg(client, { schema }), { migrationsFolder: MIGRATIONS_FOLDER });
      } finally {
        await client.query('SELECT pg_advisory_unlock(727274)').catch(() => undefined);
        client.release();
      }
    },
    ping: (timeoutMs = 2_000) => timedPing(db, timeoutMs),
    close: () => pool.end(),
  };
}

/** host:port/database of a postgres:// URL, without credentials, for logs. */
function redactedTarget(url: string): string {
  try {
    const parsed = new URL(url);
    return `postgres://${parsed.host}${parsed.pathname}`;
  } catch {
    return 'postgres://<invalid url>';
  }
}

async function openPglite(dataDir: string | null, logger: Logger): Promise<Database> {
  // Imported on use: PostgreSQL deployments never load the WASM build (~40 MB per process).
  const [{ PGlite }, { drizzle: drizzlePglite }, { migrate: migratePglite }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('drizzle-orm/pglite'),
    import('drizzle-orm/pglite/migrator'),
  ]);
  let releaseLock: (() => void) | null = null;
  if (dataDir) {
    fs.mkdirSync(dataDir, { recursive: true });
    releaseLock = acquireDirectoryLock(dataDir);
  }
  let client: InstanceType<typeof PGlite>;
  try {
    client = dataDir ? await PGlite.create(dataDir) : await PGlite.create();
  } catch (err) {
    releaseLock?.();
    throw err;
  }
  logger.debug({ dataDir: dataDir ?? 'memory' }, 'embedded PGlite opened');
  const db = drizzlePglite(client, { schema }) as unknown as Db;
  return {
    db,
    kind: 'pglite',
    migrate: async () => {
      await migratePglite(drizzlePglite(client, { schema }), { migrationsFolder: MIGRATIONS_FOLDER });
    },
    ping: (timeoutMs = 2_000) => timedPing(db, timeoutMs),
    async close() {
      try {
        await client.close();
      } finally {
        releaseLock?.();
      }
    },
  };
}

async function timedPing(db: Db, timeoutMs: number): Promise<number> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      db.execute(sql`select 1`),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
  return Math.round((performance.now() - started) * 10) / 10;
}

export class DatabaseLockedError extends Error {
  constructor(dir: string, pid: number) {
    super(
      `The embedded database in ${dir} is in use by another toolcontrol process (pid ${pid}). ` +
        'PGlite allows one process per data folder: stop the other process, use another DATA_DIR, ' +
        'or set DATABASE_URL to share a PostgreSQL server between processes.',
    );
    this.name = 'DatabaseLockedError';
  }
}

/**
 * PGlite has no lock of its own and two processes on one folder corrupt it.
 * A pid file created exclusively guards the folder; a stale one (dead pid) is taken over.
 */
function acquireDirectoryLock(dir: string): () => void {
  // Beside the folder, not inside it: PGlite owns the folder's contents.
  const lockPath = `${dir}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lockPath, String(process.pid), { flag: 'wx' });
      return () => fs.rmSync(lockPath, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number.parseInt(fs.readFileSync(lockPath, 'utf8'), 10);
      if (Number.isInteger(owner) && owner !== process.pid && isAlive(owner)) throw new DatabaseLockedError(dir, owner);
      fs.rmSync(lockPath, { force: true });
    }
  }
  throw new Error(`Could not lock ${dir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
