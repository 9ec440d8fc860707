/** The administration repositories on every backend (PGlite, and PostgreSQL when configured). */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.js';
import { operations, toolkits as toolkitsTable } from '../../src/db/schema/index.js';
import { REFERENCE_KIT_NAME, seedDefaults } from '../../src/db/seed.js';
import {
  deleteAlias,
  deleteThreshold,
  listAliases,
  listThresholds,
  upsertAlias,
  upsertThreshold,
} from '../../src/repositories/model-settings-repository.js';
import { isUniqueViolation } from '../../src/repositories/pg-helpers.js';
import {
  deleteToolkit,
  getToolkitWithItems,
  insertToolkit,
  listToolkits,
  lockToolkit,
  replaceToolkitItems,
  TOOLKIT_NAME_CONSTRAINT,
  toolkitHasHistory,
  updateToolkit,
} from '../../src/repositories/toolkits-repository.js';
import {
  deleteTool,
  findToolsByIds,
  insertTool,
  listTools,
  SERIAL_NUMBER_CONSTRAINT,
  toolHasHistory,
  updateTool,
} from '../../src/repositories/tools-repository.js';
import {
  countOtherActiveAdmins,
  EMPLOYEE_NUMBER_CONSTRAINT,
  findUserByEmployeeNumber,
  findUserById,
  insertUser,
  listUsers,
  updateUser,
} from '../../src/repositories/users-repository.js';
import { BACKENDS, openTestDatabase, silentLogger } from '../helpers/databases.js';

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}

describe.each(BACKENDS)('administration repositories on %s', (backend) => {
  let database: Database;
  let dispose: () => Promise<void>;
  let db: Database['db'];
  let adminId: number;

  beforeAll(async () => {
    ({ database, dispose } = await openTestDatabase(backend));
    await database.migrate();
    await seedDefaults(database.db, { admin: { employeeNumber: 'chief', password: 'chief-password' }, logger: silentLogger });
    db = database.db;
    adminId = (await findUserByEmployeeNumber(db, 'chief'))!.id;
  });
  afterAll(() => dispose());

  describe('users', () => {
    it('inserts, finds, filters and updates users', async () => {
      const user = await insertUser(db, { employeeNumber: 'E-1', fullName: 'Петров Пётр', role: 'engineer', passwordHash: 'h' });
      expect(await findUserById(db, user.id)).toMatchObject({ employeeNumber: 'E-1', isActive: true });
      expect(await findUserByEmployeeNumber(db, 'e-1')).toBeNull();
      expect((await listUsers(db, { q: 'пётр', skip: 0, limit: 10 })).items.map((u) => u.id)).toEqual([user.id]);
      expect((await listUsers(db, { role: 'admin', skip: 0, limit: 10 })).total).toBe(1);
      const later = new Date(Date.now() + 60_000);
      const updated = await updateUser(db, user.id, { isActive: false }, later);
      expect(updated).toMatchObject({ isActive: false, updatedAt: later });
      expect((await listUsers(db, { active: false, skip: 0, limit: 10 })).items.map((u) => u.id)).toEqual([user.id]);
      expect(await updateUser(db, 999_999, { fullName: 'x' }, later)).toBeNull();
    });

    it('recognises a taken employee number as a unique violation of its constraint', async () => {
      const err = await rejection(insertUser(db, { employeeNumber: 'chief', fullName: 'X', role: 'engineer', passwordHash: 'h' }));
      expect(isUniqueViolation(err, EMPLOYEE_NUMBER_CONSTRAINT)).toBe(true);
      expect(isUniqueViolation(err, SERIAL_NUMBER_CONSTRAINT)).toBe(false);
      expect(isUniqueViolation(new Error('other'))).toBe(false);
    });

    it('counts the other active admins', async () => {
      expect(await countOtherActiveAdmins(db, adminId)).toBe(0);
      const second = await insertUser(db, { employeeNumber: 'A-2', fullName: 'Второй', role: 'admin', passwordHash: 'h' });
      expect(await countOtherActiveAdmins(db, adminId)).toBe(1);
      await updateUser(db, second.id, { isActive: false }, new Date());
      expect(await countOtherActiveAdmins(db, adminId)).toBe(0);
    });

    it('treats SQL-looking search text as text', async () => {
      expect((await listUsers(db, { q: "' OR 1=1 --", skip: 0, limit: 10 })).total).toBe(0);
      expect((await listUsers(db, { q: '%', skip: 0, limit: 10 })).total).toBe(0);
    });
  });

  describe('tools and toolkits', () => {
    it('lists tools by class and finds them by ids', async () => {
      const cutters = await listTools(db, { classKey: 'side_cutters', skip: 0, limit: 10 });
      expect(cutters.items.map((t) => t.name)).toEqual(['Бокорезы']);
      const found = await findToolsByIds(db, [cutters.items[0]!.id, 999_999]);
      expect(found).toHaveLength(1);
      expect(await findToolsByIds(db, [])).toEqual([]);
    });

    it('recognises a taken serial number; an empty patch changes nothing', async () => {
      const err = await rejection(insertTool(db, { name: 'Пассатижи', serialNumber: 'REF-001', classKey: 'pliers' }));
      expect(isUniqueViolation(err, SERIAL_NUMBER_CONSTRAINT)).toBe(true);
      const tool = await insertTool(db, { name: 'Пассатижи', serialNumber: 'P-77', classKey: 'pliers' });
      expect(await updateTool(db, tool.id, { name: undefined })).toMatchObject({ name: 'Пассатижи' });
      expect(await updateTool(db, tool.id, { category: 'Ключи' })).toMatchObject({ category: 'Ключи' });
    });

    it('getToolkitWithItems: the kit, its holder and its items with class keys', async () => {
      const [reference] = await db.select().from(toolkitsTable).where(eq(toolkitsTable.name, REFERENCE_KIT_NAME));
      const kit = await getToolkitWithItems(db, reference!.id);
      expect(kit).toMatchObject({ name: REFERENCE_KIT_NAME, holder: null, isActive: true });
      expect(kit!.items).toHaveLength(11);
      expect(kit!.items[0]).toEqual({ toolId: expect.any(Number), classKey: expect.any(String), name: expect.any(String), serialNumber: 'REF-001', quantity: 1 });
      expect(new Set(kit!.items.map((i) => i.classKey)).size).toBe(11);
      expect(await getToolkitWithItems(db, 999_999)).toBeNull();
    });

    it('writes a kit and its items in a transaction; names are unique; holders and status filters', async () => {
      const tools = (await listTools(db, { skip: 0, limit: 3 })).items;
      const id = await db.transaction(async (tx) => {
        const kit = await insertToolkit(tx, { name: 'Набор Б', description: null, isActive: true });
        await replaceToolkitItems(tx, kit.id, [
          { toolId: tools[0]!.id, quantity: 2 },
          { toolId: tools[1]!.id, quantity: 1 },
        ]);
        return kit.id;
      });
      expect((await getToolkitWithItems(db, id))!.items.map((i) => i.quantity)).toEqual([2, 1]);

      const err = await rejection(insertToolkit(db, { name: 'Набор Б', description: null, isActive: true }));
      expect(isUniqueViolation(err, TOOLKIT_NAME_CONSTRAINT)).toBe(true);

      // A failed transaction leaves nothing behind.
      await rejection(
        db.transaction(async (tx) => {
          const kit = await insertToolkit(tx, { name: 'Набор В', description: null, isActive: true });
          await replaceToolkitItems(tx, kit.id, [{ toolId: 999_999, quantity: 1 }]);
        }),
      );
      expect((await listToolkits(db, { skip: 0, limit: 100 })).items.map((k) => k.name)).not.toContain('Набор В');

      const since = new Date('2026-01-02T03:04:05.000Z');
      const user = await insertUser(db, { employeeNumber: 'E-9', fullName: 'Сидоров', role: 'engineer', passwordHash: 'h' });
      await db.update(toolkitsTable).set({ holderId: user.id, heldSince: since }).where(eq(toolkitsTable.id, id));
      const held = await listToolkits(db, { status: 'held', skip: 0, limit: 10 });
      expect(held.items.map((k) => k.id)).toEqual([id]);
      expect(held.items[0]).toMatchObject({ holder: { id: user.id, fullName: 'Сидоров', employeeNumber: 'E-9' }, heldSince: since });
      expect((await listToolkits(db, { status: 'available', skip: 0, limit: 10 })).items.map((k) => k.id)).not.toContain(id);
      expect((await listToolkits(db, { status: 'flagged', skip: 0, limit: 10 })).total).toBe(0);

      await db.transaction(async (tx) => {
        expect(await lockToolkit(tx, id)).toMatchObject({ holderId: user.id });
      });
      expect(await updateToolkit(db, id, { description: 'Новое' })).toBe(true);
      expect(await updateToolkit(db, 999_999, { description: 'Новое' })).toBe(false);
      expect(await updateToolkit(db, id, {})).toBe(true);
    });

    it('history: a kit with an operation, a tool in such a kit', async () => {
      const tool = await insertTool(db, { name: 'Коловорот', serialNumber: 'K-1', classKey: 'brace' });
      const kit = await insertToolkit(db, { name: 'Набор Г', description: null, isActive: true });
      await replaceToolkitItems(db, kit.id, [{ toolId: tool.id, quantity: 1 }]);
      expect(await toolkitHasHistory(db, kit.id)).toBe(false);
      expect(await toolHasHistory(db, tool.id)).toBe(false);
      await db.insert(operations).values({
        userId: adminId,
        actedById: adminId,
        toolkitId: kit.id,
        operationType: 'checkout',
        status: 'success',
        resultJson: {},
        modelSha256: 'x',
        originalImageKey: 'o',
        annotatedImageKey: 'a',
      });
      expect(await toolkitHasHistory(db, kit.id)).toBe(true);
      expect(await toolHasHistory(db, tool.id)).toBe(true);

      const free = await insertTool(db, { name: 'Шэрница', serialNumber: 'S-1', classKey: 'shernitsa' });
      const freeKit = await insertToolkit(db, { name: 'Набор Д', description: null, isActive: true });
      await replaceToolkitItems(db, freeKit.id, [{ toolId: free.id, quantity: 1 }]);
      expect(await db.transaction((tx) => deleteTool(tx, free.id))).toBe(true);
      expect((await getToolkitWithItems(db, freeKit.id))!.items).toEqual([]);
      expect(await deleteToolkit(db, freeKit.id)).toBe(true);
      expect(await deleteToolkit(db, freeKit.id)).toBe(false);
    });
  });

  describe('aliases and thresholds', () => {
    it('listAliases: model class name → class key, including the seeded ones', async () => {
      await upsertAlias(db, '7', 'side_cutters', new Date());
      await upsertAlias(db, '7', 'pliers', new Date());
      const aliases = await listAliases(db);
      expect(aliases.get('7')).toBe('pliers');
      expect(aliases.get('Шэрница')).toBe('shernitsa');
      expect(aliases.get('side_cutters')).toBe('side_cutters');
      expect(await deleteAlias(db, '7')).toBe(true);
      expect(await deleteAlias(db, '7')).toBe(false);
      expect((await listAliases(db)).has('7')).toBe(false);
    });

    it('listThresholds: class key → threshold, exact to six decimals', async () => {
      expect((await listThresholds(db)).size).toBe(0);
      const row = await upsertThreshold(db, 'side_cutters', 0.35, adminId, new Date());
      expect(row.threshold).toBe(0.35);
      await upsertThreshold(db, 'pliers', 0.7, adminId, new Date());
      await upsertThreshold(db, 'pliers', 0.65, adminId, new Date());
      expect(await listThresholds(db)).toEqual(
        new Map([
          ['side_cutters', 0.35],
          ['pliers', 0.65],
        ]),
      );
      expect(await deleteThreshold(db, 'pliers')).toBe(true);
      expect(await deleteThreshold(db, 'pliers')).toBe(false);
    });
  });
});
