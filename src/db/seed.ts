/**
 * Default data, inserted when absent (the seed's utils/mock.py): the 11 tools of
 * the reference kit, aliases for their keys, names and seed ids, the reference kit, and the
 * first admin.
 * Idempotent: running it again changes nothing.
 */
import crypto from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { TOOL_CLASSES } from '../domain/tool-classes.js';
import { hashPassword } from '../shared/passwords.js';
import type { Db } from './client.js';
import { modelClassAliases, toolkitItems, toolkits, tools, users } from './schema/index.js';

export const REFERENCE_KIT_NAME = 'Эталонный набор (11 инструментов)';

export interface SeedOptions {
  admin: { employeeNumber: string; password: string | null };
  logger: Logger;
}

export async function seedDefaults(db: Db, options: SeedOptions): Promise<void> {
  await db.transaction(async (tx) => {
    // Serialise concurrent first starts against one PostgreSQL (no-op cost on PGlite).
    await tx.execute(sql`select pg_advisory_xact_lock(727275)`);

    const existingTools = await tx.select({ id: tools.id }).from(tools).limit(1);
    if (existingTools.length === 0) {
      const inserted = await tx
        .insert(tools)
        .values(
          TOOL_CLASSES.map((c, i) => ({
            name: c.name,
            classKey: c.key,
            category: c.category,
            serialNumber: `REF-${String(i + 1).padStart(3, '0')}`,
          })),
        )
        .returning({ id: tools.id });
      const [kit] = await tx
        .insert(toolkits)
        .values({ name: REFERENCE_KIT_NAME, description: 'Эталонный набор: по одному инструменту каждого из 11 классов' })
        .onConflictDoNothing()
        .returning({ id: toolkits.id });
      if (kit) {
        await tx.insert(toolkitItems).values(inserted.map((t) => ({ toolkitId: kit.id, toolId: t.id, quantity: 1 })));
      }
      options.logger.info({ tools: inserted.length }, 'default tools and reference kit created');
    }

    // Every key (and its Russian name) maps to itself, so models exported with either work; and
    // the seed team's tool ids '1'…'11' (its utils/mock.py, the order of TOOL_CLASSES), the class
    // names of its YOLO11-L. Only absent names are added: an admin's own alias of a name stays.
    await tx
      .insert(modelClassAliases)
      .values(
        TOOL_CLASSES.flatMap((c, i) => [
          { modelClassName: c.key, classKey: c.key },
          { modelClassName: c.name, classKey: c.key },
          { modelClassName: String(i + 1), classKey: c.key },
        ]),
      )
      .onConflictDoNothing();

    const [admin] = await tx.select({ id: users.id }).from(users).where(eq(users.role, 'admin')).limit(1);
    if (!admin) {
      const generated = options.admin.password === null;
      const password = options.admin.password ?? crypto.randomBytes(12).toString('base64url');
      await tx.insert(users).values({
        employeeNumber: options.admin.employeeNumber,
        fullName: 'Администратор',
        role: 'admin',
        passwordHash: await hashPassword(password),
      });
      if (generated) {
        // Printed once: this is the only place the generated password is ever shown.
        options.logger.warn(
          { employeeNumber: options.admin.employeeNumber, generatedPassword: password },
          'first admin created with a generated password; log in and change it (set ADMIN_PASSWORD to choose it)',
        );
      } else {
        options.logger.info({ employeeNumber: options.admin.employeeNumber }, 'first admin created');
      }
    }
  });
}
