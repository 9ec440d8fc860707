/** User administration: create, edit, deactivate, reset passwords. */
import type { Db } from '../db/client.js';
import type { User, UserRole } from '../db/schema/index.js';
import { isUniqueViolation } from '../repositories/pg-helpers.js';
import {
  countOtherActiveAdmins,
  EMPLOYEE_NUMBER_CONSTRAINT,
  findUserById,
  insertUser,
  listUsers,
  updateUser,
  type UserFilter,
  type UserPatch,
} from '../repositories/users-repository.js';
import type { Clock } from '../shared/clock.js';
import { ConflictError, NotFoundError } from '../shared/errors.js';
import { hashPassword } from '../shared/passwords.js';
import type { RefreshTokens } from './refresh-tokens.js';

export interface NewUserInput {
  employeeNumber: string;
  fullName: string;
  role: UserRole;
  password: string;
  isActive?: boolean;
}

export interface UserChanges {
  fullName?: string;
  role?: UserRole;
  isActive?: boolean;
}

export function createUsersService(deps: { db: Db; clock: Clock; refreshTokens: RefreshTokens }) {
  const { db, clock, refreshTokens } = deps;
  const notFound = (id: number) => new NotFoundError('user.not_found', `No user with id ${id}`);

  return {
    list: (filter: UserFilter) => listUsers(db, filter),

    async get(id: number): Promise<User> {
      const user = await findUserById(db, id);
      if (!user) throw notFound(id);
      return user;
    },

    async create(input: NewUserInput): Promise<User> {
      const passwordHash = await hashPassword(input.password);
      try {
        return await insertUser(db, {
          employeeNumber: input.employeeNumber,
          fullName: input.fullName,
          role: input.role,
          isActive: input.isActive ?? true,
          passwordHash,
        });
      } catch (err) {
        if (isUniqueViolation(err, EMPLOYEE_NUMBER_CONSTRAINT)) {
          throw new ConflictError('user.employee_number_taken', `Employee number ${input.employeeNumber} is already registered`);
        }
        throw err;
      }
    },

    /** Edit a user; deactivating one signs out all their sessions. The last active admin stays one. */
    async update(id: number, changes: UserChanges): Promise<User> {
      const updated = await db.transaction(async (tx) => {
        const user = await findUserById(tx, id);
        if (!user) throw notFound(id);
        const losesAdmin = user.role === 'admin' && user.isActive && (changes.isActive === false || (changes.role ?? 'admin') !== 'admin');
        if (losesAdmin && (await countOtherActiveAdmins(tx, id)) === 0) {
          throw new ConflictError('user.last_admin', 'The last active admin cannot be deactivated or given another role');
        }
        const patch: UserPatch = {};
        if (changes.fullName !== undefined) patch.fullName = changes.fullName;
        if (changes.role !== undefined) patch.role = changes.role;
        if (changes.isActive !== undefined) patch.isActive = changes.isActive;
        return (await updateUser(tx, id, patch, clock.now()))!;
      });
      if (changes.isActive === false) await refreshTokens.revokeAllForUser(id);
      return updated;
    },

    /** An admin sets a new password; the user's sessions are signed out. */
    async resetPassword(id: number, password: string): Promise<User> {
      const passwordHash = await hashPassword(password);
      const user = await updateUser(db, id, { passwordHash }, clock.now());
      if (!user) throw notFound(id);
      await refreshTokens.revokeAllForUser(id);
      return user;
    },
  };
}

export type UsersService = ReturnType<typeof createUsersService>;
