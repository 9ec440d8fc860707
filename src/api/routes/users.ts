/** /api/v1/users: user administration (admin); storekeepers may read (they act for engineers). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Deps } from '../../deps.js';
import { bearerSecurity, requireRole } from '../plugins/auth.js';
import { problems } from '../schemas/common.js';
import { IdParams, Page, PaginationQuery } from '../schemas/pagination.js';
import { CreateUserBody, ResetPasswordBody, UpdateUserBody, UserListQuery, userDto, UserSchema } from '../schemas/users.js';

export const userRoutes: FastifyPluginAsyncTypebox<{ deps: Deps }> = async (app, { deps }) => {
  const users = deps.services.users;
  const readers = requireRole('admin', 'storekeeper');
  const admin = requireRole('admin');
  const User = Type.Ref('User');
  app.addSchema(UserSchema);

  app.get(
    '/api/v1/users',
    {
      preHandler: readers,
      schema: {
        tags: ['users'],
        summary: 'List users',
        security: bearerSecurity,
        querystring: Type.Object({ ...UserListQuery.properties, ...PaginationQuery }, { additionalProperties: false }),
        response: { 200: Page(User), ...problems(400, 401, 403) },
      },
    },
    async (request) => {
      const { skip, limit, role, active, q } = request.query;
      const page = await users.list({ skip, limit, role, active, q });
      return { items: page.items.map(userDto), total: page.total, skip, limit };
    },
  );

  app.post(
    '/api/v1/users',
    {
      preHandler: admin,
      schema: {
        tags: ['users'],
        summary: 'Create a user',
        security: bearerSecurity,
        body: CreateUserBody,
        response: { 201: User, ...problems(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      const { employee_number, full_name, role, password, is_active } = request.body;
      const user = await users.create({ employeeNumber: employee_number, fullName: full_name, role, password, isActive: is_active });
      return reply.code(201).send(userDto(user));
    },
  );

  app.get(
    '/api/v1/users/:id',
    {
      preHandler: readers,
      schema: {
        tags: ['users'],
        summary: 'A user',
        security: bearerSecurity,
        params: IdParams,
        response: { 200: User, ...problems(400, 401, 403, 404) },
      },
    },
    async (request) => userDto(await users.get(request.params.id)),
  );

  app.patch(
    '/api/v1/users/:id',
    {
      preHandler: admin,
      schema: {
        tags: ['users'],
        summary: 'Edit a user: name, role, active (is_active: false deactivates)',
        security: bearerSecurity,
        params: IdParams,
        body: UpdateUserBody,
        response: { 200: User, ...problems(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const { full_name, role, is_active } = request.body;
      return userDto(await users.update(request.params.id, { fullName: full_name, role, isActive: is_active }));
    },
  );

  app.post(
    '/api/v1/users/:id/password',
    {
      preHandler: admin,
      schema: {
        tags: ['users'],
        summary: "Reset a user's password",
        description: "The user's sessions are signed out.",
        security: bearerSecurity,
        params: IdParams,
        body: ResetPasswordBody,
        response: { 200: User, ...problems(400, 401, 403, 404) },
      },
    },
    async (request) => userDto(await users.resetPassword(request.params.id, request.body.password)),
  );
};
