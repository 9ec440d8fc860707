/**
 * `npm run migrate`: apply pending migrations to the configured database (DATABASE_URL, the
 * seed's DB_* variables, or the embedded PGlite in DATA_DIR) and say what was done. The
 * service also migrates at start; this is for deployments that migrate as a separate step.
 *
 *   npm run migrate              apply pending migrations
 *   npm run migrate -- --status  list applied and pending migrations, change nothing
 *
 * Exit codes: 0 done (or nothing pending), 1 the database failed or refused, 2 invalid
 * configuration, 3 `--status` found pending migrations.
 */
import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { redactUrl } from '../cache/redis-client.js';
import { loadConfigOrExit } from '../config/index.js';
import { createLogger } from '../shared/logger.js';
import { MIGRATIONS_FOLDER, openDatabase, type Database } from './client.js';

interface JournalEntry {
  idx: number;
  when: number;
  tag: string;
}

function journal(): JournalEntry[] {
  const file = path.join(MIGRATIONS_FOLDER, 'meta/_journal.json');
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { entries: JournalEntry[] }).entries;
}

/** created_at of the last applied migration (drizzle's bookkeeping), or null on a fresh database. */
async function lastApplied(database: Database): Promise<number | null> {
  try {
    const result = await database.db.execute(
      sql`select max(created_at)::text as last from drizzle.__drizzle_migrations`,
    );
    const rows = (result as unknown as { rows: Array<{ last: string | null }> }).rows;
    return rows[0]?.last ? Number(rows[0].last) : null;
  } catch {
    return null; // no bookkeeping table yet
  }
}

const applied = (entries: JournalEntry[], last: number | null) => entries.filter((e) => last !== null && e.when <= last);

async function main(argv: string[]): Promise<number> {
  const statusOnly = argv.includes('--status');
  const config = loadConfigOrExit(2);
  // Library logs (connection errors) go to stderr; this command's report goes to stdout.
  const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  const target = config.databaseUrl
    ? `PostgreSQL ${redactUrl(config.databaseUrl)}`
    : `embedded PGlite in ${path.join(config.dataDir, 'pglite')}`;

  let database: Database;
  try {
    database = await openDatabase({ url: config.databaseUrl, pgliteDir: path.join(config.dataDir, 'pglite'), logger, poolSize: 1 });
  } catch (err) {
    console.error(`Could not open ${target}: ${(err as Error).message}`);
    return 1;
  }
  try {
    const entries = journal();
    const before = applied(entries, await lastApplied(database));
    const pending = entries.filter((e) => !before.includes(e));
    if (statusOnly) {
      console.log(`${target}: ${before.length} of ${entries.length} migration(s) applied`);
      for (const e of entries) console.log(`  ${before.includes(e) ? 'applied' : 'pending'}  ${e.tag}`);
      return pending.length > 0 ? 3 : 0;
    }
    if (pending.length === 0) {
      console.log(`${target}: up to date (${entries.length} migration(s) applied)`);
      return 0;
    }
    console.log(`${target}: applying ${pending.length} migration(s): ${pending.map((e) => e.tag).join(', ')}`);
    const started = performance.now();
    await database.migrate();
    const after = applied(entries, await lastApplied(database));
    console.log(
      `${target}: done in ${Math.round(performance.now() - started)} ms; ${after.length} of ${entries.length} migration(s) applied`,
    );
    return after.length === entries.length ? 0 : 1;
  } catch (err) {
    const error = err as Error & { cause?: Error };
    console.error(`Migration of ${target} failed: ${error.message}${error.cause ? ` (${error.cause.message})` : ''}`);
    return 1;
  } finally {
    await database.close().catch(() => undefined);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
