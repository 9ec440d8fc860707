import fs from 'node:fs';
import path from 'node:path';
import { count, eq, sql, type SQL } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/client.js';
import { REFERENCE_KIT_NAME, seedDefaults } from '../../src/db/seed.js';
import { modelClassAliases, toolkitItems, toolkits, tools, users } from '../../src/db/schema/index.js';
import { TOOL_CLASSES } from '../../src/domain/tool-classes.js';
import { verifyPassword } from '../../src/shared/passwords.js';
import { tempDir } from '../helpers/config.js';
import { BACKENDS, openTestDatabase, silentLogger } from '../helpers/databases.js';

/** Both drivers answer `execute` with `{ rows }`. */
async function rows<T>(database: Database, query: SQL): Promise<T[]> {
  return ((await database.db.execute(query)) as unknown as { rows: T[] }).rows;
}

const admin = { employeeNumber: 'chief', password: 'chief-password' };

describe.each(BACKENDS)('database on %s', (backend) => {
  let database: Database;
  let dispose: () => Promise<void>;

  beforeAll(async () => {
    ({ database, dispose } = await openTestDatabase(backend));
    await database.migrate();
  });
  afterAll(() => dispose());

  it('applies the migrations once and again without change', async () => {
    await database.migrate();
    const tables = await rows<{ table_name: string }>(
      database,
      sql`select table_name from information_schema.tables where table_schema = 'public' order by table_name`,
    );
    expect(tables.map((r) => r.table_name)).toEqual(
      expect.arrayContaining([
        'class_thresholds',
        'model_class_aliases',
        'operations',
        'predictions',
        'review_audit',
        'toolkit_items',
        'toolkits',
        'tools',
        'users',
      ]),
    );
  });

  it('creates the indexes the history queries use', async () => {
    const indexes = await rows<{ indexname: string }>(database, sql`select indexname from pg_indexes where tablename = 'operations'`);
    expect(indexes.map((r) => r.indexname)).toEqual(
      expect.arrayContaining(['operations_user_time_idx', 'operations_toolkit_time_idx', 'operations_status_time_idx', 'operations_time_id_idx']),
    );
  });

  it('seeds the 11 tools, aliases, the reference kit and the admin, idempotently', async () => {
    await seedDefaults(database.db, { admin, logger: silentLogger });
    await seedDefaults(database.db, { admin, logger: silentLogger });

    const toolRows = await database.db.select().from(tools);
    expect(toolRows.map((t) => t.classKey).sort()).toEqual(TOOL_CLASSES.map((c) => c.key).sort());
    expect(toolRows.find((t) => t.classKey === 'shernitsa')?.name).toBe('Шэрница');

    const [kit] = await database.db.select().from(toolkits).where(eq(toolkits.name, REFERENCE_KIT_NAME));
    expect(kit).toBeDefined();
    const items = await database.db.select().from(toolkitItems).where(eq(toolkitItems.toolkitId, kit!.id));
    expect(items).toHaveLength(11);
    expect(items.every((i) => i.quantity === 1)).toBe(true);

    // Key, Russian name and the seed team's tool id ('1'…'11') of each of the 11 tools.
    const [aliasCount] = await database.db.select({ n: count() }).from(modelClassAliases);
    expect(aliasCount!.n).toBe(33);

    const admins = await database.db.select().from(users).where(eq(users.role, 'admin'));
    expect(admins).toHaveLength(1);
    expect(admins[0]!.employeeNumber).toBe('chief');
    expect(await verifyPassword(admins[0]!.passwordHash, 'chief-password')).toBe(true);
  });

  it("maps the seed team's tool ids '1'…'11' to the tools in its utils/mock.py order, and a second seed changes nothing", async () => {
    await seedDefaults(database.db, { admin, logger: silentLogger });
    const before = await database.db.select().from(modelClassAliases).orderBy(modelClassAliases.modelClassName);
    const ids = Object.fromEntries(before.filter((a) => /^\d+$/.test(a.modelClassName)).map((a) => [a.modelClassName, a.classKey]));
    // utils/mock.py: 1 Отвертка «-», 2 Отвертка «+», 3 Отвертка на смещенный крест, … 7 Шэрница, … 11 Бокорезы.
    expect(ids).toEqual({
      '1': 'screwdriver_flat',
      '2': 'screwdriver_phillips',
      '3': 'screwdriver_offset_phillips',
      '4': 'brace',
      '5': 'safety_wire_pliers',
      '6': 'pliers',
      '7': 'shernitsa',
      '8': 'adjustable_wrench',
      '9': 'oil_can_opener',
      '10': 'combination_wrench_3_4',
      '11': 'side_cutters',
    });
    // …which is the register's order (DESIGN.md's table, TOOL_CLASSES).
    expect(TOOL_CLASSES.map((_c, i) => ids[String(i + 1)])).toEqual(TOOL_CLASSES.map((c) => c.key));

    await seedDefaults(database.db, { admin, logger: silentLogger });
    expect(await database.db.select().from(modelClassAliases).orderBy(modelClassAliases.modelClassName)).toEqual(before);
  });

  it("adds the tool ids to a database seeded before them, and keeps an admin's own alias '3'", async () => {
    // A database of an earlier version: keys and names only; its admin mapped '3' to pliers.
    await database.db.delete(modelClassAliases).where(sql`${modelClassAliases.modelClassName} ~ '^[0-9]+$'`);
    const adminSet = new Date('2025-01-02T03:04:05Z');
    await database.db.insert(modelClassAliases).values({ modelClassName: '3', classKey: 'pliers', updatedAt: adminSet });

    await seedDefaults(database.db, { admin, logger: silentLogger });
    await seedDefaults(database.db, { admin, logger: silentLogger });

    const aliases = await database.db.select().from(modelClassAliases);
    const byName = new Map(aliases.map((a) => [a.modelClassName, a]));
    expect(byName.get('3')).toMatchObject({ classKey: 'pliers', updatedAt: adminSet });
    expect(byName.get('1')?.classKey).toBe('screwdriver_flat');
    expect(byName.get('11')?.classKey).toBe('side_cutters');
    expect(aliases).toHaveLength(33);
  });

  it('refuses a non-positive item quantity', async () => {
    const [kit] = await database.db.insert(toolkits).values({ name: `kit-${backend}` }).returning();
    const [tool] = await database.db.select().from(tools).limit(1);
    await expect(database.db.insert(toolkitItems).values({ toolkitId: kit!.id, toolId: tool!.id, quantity: 0 })).rejects.toThrow();
  });
});

describe('embedded PGlite on disk', () => {
  it('keeps data across reopen and refuses a second process on the same folder', async () => {
    const tmp = tempDir();
    const dir = path.join(tmp.dir, 'nested', 'pglite'); // parents do not exist yet
    try {
      const first = await openDatabase({ url: null, pgliteDir: dir, logger: silentLogger });
      await first.migrate();
      await seedDefaults(first.db, { admin, logger: silentLogger });

      // A live foreign pid of this host and namespace in the lock file stands for another process.
      const lockPath = `${dir}.lock`;
      const own = fs.readFileSync(lockPath, 'utf8');
      expect(JSON.parse(own)).toMatchObject({ pid: process.pid });
      fs.writeFileSync(lockPath, JSON.stringify({ ...JSON.parse(own), pid: process.ppid }));
      await expect(openDatabase({ url: null, pgliteDir: dir, logger: silentLogger })).rejects.toThrow(/in use by another toolcontrol process/);
      fs.writeFileSync(lockPath, own);
      await first.close();
      expect(fs.existsSync(lockPath)).toBe(false);

      const second = await openDatabase({ url: null, pgliteDir: dir, logger: silentLogger });
      const rows = await second.db.select().from(tools);
      expect(rows).toHaveLength(11);
      await second.close();
    } finally {
      tmp.cleanup();
    }
  });

  // Stale locks, other hosts and containers: pglite-lock.test.ts.
});
