import { Type } from 'typebox';
import type { User } from '../../db/schema/index.js';
import { DateTime } from './pagination.js';

export const USER_ROLES = ['admin', 'storekeeper', 'engineer'] as const;
export const Role = Type.Enum([...USER_ROLES]);

/** Passwords: at least 8 characters; bounded so hashing stays cheap. */
export const Password = Type.String({ minLength: 8, maxLength: 256 });
export const EmployeeNumber = Type.String({ minLength: 1, maxLength: 64, pattern: '^\\S(.*\\S)?$' });
const FullName = Type.String({ minLength: 1, maxLength: 200 });

export const UserSchema = Type.Object(
  {
    id: Type.Integer(),
    employee_number: Type.String(),
    full_name: Type.String(),
    role: Role,
    is_active: Type.Boolean(),
    created_at: DateTime,
    updated_at: DateTime,
  },
  { $id: 'User', description: 'A user (never with a password hash)' },
);

export const CreateUserBody = Type.Object(
  {
    employee_number: EmployeeNumber,
    full_name: FullName,
    role: Role,
    password: Password,
    is_active: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const UpdateUserBody = Type.Object(
  {
    full_name: Type.Optional(FullName),
    role: Type.Optional(Role),
    is_active: Type.Optional(Type.Boolean({ description: 'false deactivates: no login, sessions revoked' })),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const ResetPasswordBody = Type.Object({ password: Password }, { additionalProperties: false });

export const UserListQuery = Type.Object(
  {
    role: Type.Optional(Role),
    active: Type.Optional(Type.Boolean()),
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Part of the employee number or name' })),
  },
  { additionalProperties: false },
);

export function userDto(user: User) {
  return {
    id: user.id,
    employee_number: user.employeeNumber,
    full_name: user.fullName,
    role: user.role,
    is_active: user.isActive,
    created_at: user.createdAt.toISOString(),
    updated_at: user.updatedAt.toISOString(),
  };
}
