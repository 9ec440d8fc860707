/** Users: the only code that reads or writes the `users` table. */
import { and, asc, count, eq, ilike, ne, or, type SQL } from 'drizzle-orm';
import type { DbOrTx } from '../db/client.js';
import { users, type NewUser, type User, type UserRole } from '../db/schema/index.js';
import { escapeLike } from './pg-helpers.js';

export const EMPLOYEE_NUMBER_CONSTRAINT = 'users_employee_number_unique';

export interface UserFilter {
  role?: UserRole;
  active?: boolean;
  /** Case-insensitive substring of the employee number or the full name. */
  q?: string;
  skip: number;
  limit: number;
}

export async function findUserById(db: DbOrTx, id: number): Promise<User | null> {
  const [row] = await db.select().from(users).where(eq(users.id, id)).limit(1);
  return row ?? null;
}

export async function findUserByEmployeeNumber(db: DbOrTx, employeeNumber: string): Promise<User | null> {
  const [row] = await db.select().from(users).where(eq(users.employeeNumber, employeeNumber)).limit(1);
  return row ?? null;
}

export async function listUsers(db: DbOrTx, filter: UserFilter): Promise<{ items: User[]; total: number }> {
  const conditions: SQL[] = [];
  if (filter.role) conditions.push(eq(users.role, filter.role));
  if (filter.active !== undefined) conditions.push(eq(users.isActive, filter.active));
  if (filter.q) {
    const pattern = `%${escapeLike(filter.q)}%`;
    conditions.push(or(ilike(users.employeeNumber, pattern), ilike(users.fullName, pattern))!);
  }
  const where = conditions.length > 0 ? and(...conditions) : undefined;
  const [items, [totalRow]] = await Promise.all([
    db.select().from(users).where(where).orderBy(asc(users.id)).offset(filter.skip).limit(filter.limit),
    db.select({ n: count() }).from(users).where(where),
  ]);
  return { items, total: totalRow?.n ?? 0 };
}

/** Insert a user; a taken employee number fails with a unique violation on EMPLOYEE_NUMBER_CONSTRAINT. */
export async function insertUser(db: DbOrTx, values: NewUser): Promise<User> {
  const [row] = await db.insert(users).values(values).returning();
  return row!;
}

export type UserPatch = Partial<Pick<NewUser, 'fullName' | 'role' | 'isActive' | 'passwordHash'>>;

export async function updateUser(db: DbOrTx, id: number, patch: UserPatch, now: Date): Promise<User | null> {
  const [row] = await db
    .update(users)
    .set({ ...patch, updatedAt: now })
    .where(eq(users.id, id))
    .returning();
  return row ?? null;
}

/**
 * Active admins other than `exceptId`, their rows locked until the transaction ends: two
 * admins demoting each other at once are serialised, so the second sees the first's change
 * and the last active admin stays one.
 */
export async function countOtherActiveAdmins(db: DbOrTx, exceptId: number): Promise<number> {
  const rows = await db
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.role, 'admin'), eq(users.isActive, true)))
    .for('update');
  return rows.filter((r) => r.id !== exceptId).length;
}
