/**
 * The database: embedded PGlite (file-backed, zero setup) or PostgreSQL through a
 * node-postgres pool. Both speak the same Drizzle API and run the same migrations.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
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

/** Who holds a PGlite folder lock, as recorded in the lock file. */
export interface LockHolder {
  pid: number;
  hostname?: string;
  platform?: string;
  /** /proc/sys/kernel/random/boot_id: one boot of one kernel. */
  bootId?: string | null;
  /** /proc/self/ns/pid, e.g. `pid:[4026531836]`: the pid means something only inside it. */
  pidNamespace?: string | null;
  /** Start time of the process in clock ticks since boot (/proc/self/stat): tells it from an earlier one with the same pid. */
  processStart?: string | null;
  since?: string;
  /** Random per lock: close removes the lock only while it is still this one. */
  token?: string;
}

type LockRefusal = 'in-use' | 'this-process' | 'unverifiable';

/** The holder refreshes its lock file's time this often… */
export const LOCK_HEARTBEAT_MS = 10_000;
/**
 * …so a lock whose holder cannot be checked from here is stale once this long without one:
 * far longer than the beat, as a live holder's event loop may be busy (a long migration in
 * PGlite's WebAssembly) or its container paused for a while.
 */
export const LOCK_STALE_MS = 5 * 60_000;

export class DatabaseLockedError extends Error {
  constructor(
    readonly dir: string,
    readonly lockPath: string,
    /** null when the lock file cannot be read as a lock. */
    readonly holder: LockHolder | null,
    reason: LockRefusal,
  ) {
    const alternatives = 'PGlite allows one process per data folder: stop the other process, use another DATA_DIR, or set DATABASE_URL to share a PostgreSQL server between processes.';
    super(
      reason === 'this-process'
        ? `The embedded database in ${dir} is already open in this process.`
        : reason === 'in-use'
          ? `The embedded database in ${dir} is in use by another toolcontrol process (pid ${holder?.pid}). ${alternatives}`
          : `The embedded database in ${dir} is locked by ${describeHolder(holder)}, which cannot be checked from here ` +
            `(another host or container, or a lock without those details) and refreshed its lock less than ` +
            `${LOCK_STALE_MS / 60_000} min ago. ${alternatives} ` +
            `A lock not refreshed for ${LOCK_STALE_MS / 60_000} min (its process or machine was killed) is taken over at the next start; ` +
            `if you know no other process uses the folder, remove the stale lock file ${lockPath} and start again.`,
    );
    this.name = 'DatabaseLockedError';
  }
}

function describeHolder(holder: LockHolder | null): string {
  if (!holder) return 'an unknown process (the lock file is unreadable)';
  if (!holder.hostname) return `pid ${holder.pid} (a lock file of an earlier version, without host details)`;
  const namespace = holder.pidNamespace ? `, PID namespace ${holder.pidNamespace}` : '';
  const since = holder.since ? `, since ${holder.since}` : '';
  return `pid ${holder.pid} on host ${holder.hostname} (boot ${holder.bootId ?? 'unknown'}${namespace}${since})`;
}

/**
 * PGlite has no lock of its own and two processes on one folder corrupt it. A lock file
 * created exclusively beside the folder guards it, recording the pid and where that pid
 * means something: host, boot and PID namespace. Containers on one volume each run node as
 * pid 1 (or another low pid) in their own namespace, where the others' pids look dead, so a
 * lock is taken over when it comes from this host, boot and namespace and its process is
 * gone. Where the holder cannot be checked (another container, host or boot), its heartbeat
 * decides: a holder touches the file every LOCK_HEARTBEAT_MS, and a lock untouched for
 * LOCK_STALE_MS belongs to a process or machine that was killed, so a container restarted
 * after an OOM kill or a machine after a power cut starts again on its own, a minute later
 * at most. A fresh lock is refused, naming the file to remove.
 */
function acquireDirectoryLock(dir: string): () => void {
  // Beside the folder, not inside it: PGlite owns the folder's contents.
  const lockPath = `${path.resolve(dir)}.lock`;
  const self = processIdentity();
  const token = crypto.randomUUID();
  const content = JSON.stringify({ pid: process.pid, ...self, since: new Date().toISOString(), token } satisfies LockHolder);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(lockPath, content, { flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const found = readLock(lockPath);
      if (found === null) continue; // removed meanwhile: try again
      const holder = parseLock(found);
      let refusal = refusalFor(holder, self);
      // An earlier boot of this machine: its processes are gone. Otherwise no heartbeat for
      // LOCK_STALE_MS: the holder (another container, another host) was killed. Locks of
      // earlier versions had no heartbeat and say nothing of where they were taken: refused.
      if (refusal === 'unverifiable' && holder?.hostname !== undefined) {
        const earlierBoot = holder.hostname === self.hostname && holder.platform === self.platform && !!self.bootId && !!holder.bootId && holder.bootId !== self.bootId;
        if (earlierBoot || lockAgeMs(lockPath) > LOCK_STALE_MS) refusal = null;
      }
      if (refusal) throw new DatabaseLockedError(dir, lockPath, holder, refusal);
      takeOverStaleLock(lockPath, found);
      continue;
    }
    // A process that exits without close (fatal error, forced exit) leaves no lock behind;
    // only a killed process or machine does.
    const heartbeat = setInterval(() => {
      try {
        if (readLock(lockPath) === content) {
          const now = new Date();
          fs.utimesSync(lockPath, now, now);
        }
      } catch {
        /* the next beat tries again */
      }
    }, LOCK_HEARTBEAT_MS);
    heartbeat.unref();
    const release = () => {
      clearInterval(heartbeat);
      process.off('exit', release);
      try {
        if (readLock(lockPath) === content) fs.rmSync(lockPath, { force: true });
      } catch {
        /* unreadable now: nothing more to do on the way out */
      }
    };
    process.on('exit', release);
    return release;
  }
  throw new Error(`Could not lock ${dir}: ${lockPath} keeps changing`);
}

/** Why a lock must be respected, or null when it is provably stale. */
function refusalFor(holder: LockHolder | null, self: ProcessIdentity): LockRefusal | null {
  // A lock of an earlier version (a bare pid) does not say where that pid lives.
  if (!holder || !sameHostAndNamespace(holder, self)) return 'unverifiable';
  if (holder.pid === process.pid) {
    // Our pid: this very process (another open, another thread), or an earlier process that
    // had the pid and is gone, which only a different start time proves.
    const earlier = !!self.processStart && !!holder.processStart && holder.processStart !== self.processStart;
    return earlier ? null : 'this-process';
  }
  return isAlive(holder.pid) ? 'in-use' : null;
}

function sameHostAndNamespace(holder: LockHolder, self: ProcessIdentity): boolean {
  if (holder.hostname !== self.hostname || holder.platform !== self.platform) return false;
  // Without PID namespaces (not Linux) the host name is all there is to compare.
  if (self.platform !== 'linux') return true;
  // Equal namespace ids within one boot: the same namespace, or its id reused after every
  // process in it ended; either way a dead pid there is really dead.
  return !!self.bootId && !!self.pidNamespace && holder.bootId === self.bootId && holder.pidNamespace === self.pidNamespace;
}

/**
 * Removes a stale lock unless it changed since it was judged: moved aside first (atomic), so
 * of two processes taking over at once neither deletes the lock the other has just created.
 */
function takeOverStaleLock(lockPath: string, stale: string): void {
  const aside = `${lockPath}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.stale`;
  try {
    fs.renameSync(lockPath, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (readLock(aside) !== stale) {
    // Someone else's fresh lock: put it back (link does not overwrite) and look again.
    try {
      fs.linkSync(aside, lockPath);
    } catch {
      /* a newer lock is in place; the next attempt judges that one */
    }
  }
  fs.rmSync(aside, { force: true });
}

/** Time since the lock file was last written or refreshed; 0 when it is gone. */
function lockAgeMs(lockPath: string): number {
  try {
    return Date.now() - fs.statSync(lockPath).mtimeMs;
  } catch {
    return 0;
  }
}

/** The lock file's content; null when it does not exist. */
function readLock(lockPath: string): string | null {
  try {
    return fs.readFileSync(lockPath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** JSON of LockHolder, or the bare pid earlier versions wrote; null when neither. */
function parseLock(content: string): LockHolder | null {
  const text = content.trim();
  if (/^\d+$/.test(text)) return { pid: Number(text) };
  try {
    const holder = JSON.parse(text) as LockHolder;
    return Number.isInteger(holder?.pid) && holder.pid > 0 ? holder : null;
  } catch {
    return null;
  }
}

interface ProcessIdentity {
  hostname: string;
  platform: string;
  bootId: string | null;
  pidNamespace: string | null;
  processStart: string | null;
}

let identity: ProcessIdentity | undefined;

function processIdentity(): ProcessIdentity {
  identity ??= {
    hostname: os.hostname(),
    platform: process.platform,
    bootId: readOrNull(() => fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()),
    pidNamespace: readOrNull(() => fs.readlinkSync('/proc/self/ns/pid')),
    // Field 22; the command name in field 2 may hold spaces, so count after its ')'.
    processStart: readOrNull(() => {
      const stat = fs.readFileSync('/proc/self/stat', 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
    }),
  };
  return identity;
}

function readOrNull(read: () => string): string | null {
  try {
    return read() || null;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
