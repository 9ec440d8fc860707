/** /api/v1/toolkits: kit state for everyone logged in (who holds which kit); contents for admins. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Deps } from '../../deps.js';
import { ALL_ROLES, bearerSecurity, requireRole } from '../plugins/auth.js';
import { OkResponse } from '../schemas/auth.js';
import { problems } from '../schemas/common.js';
import { IdParams, Page, PaginationQuery } from '../schemas/pagination.js';
import {
  CreateToolkitBody,
  ReplaceItemsBody,
  ToolkitListQuery,
  toolkitDto,
  ToolkitSchema,
  UpdateToolkitBody,
} from '../schemas/toolkits.js';

const items = (body: { items: Array<{ tool_id: number; quantity: number }> }) =>
  body.items.map((i) => ({ toolId: i.tool_id, quantity: i.quantity }));

export const toolkitRoutes: FastifyPluginAsyncTypebox<{ deps: Deps }> = async (app, { deps }) => {
  const toolkits = deps.services.toolkits;
  const anyone = requireRole(...ALL_ROLES);
  const admin = requireRole('admin');
  const Toolkit = Type.Ref('Toolkit');
  app.addSchema(ToolkitSchema);

  app.get(
    '/api/v1/toolkits',
    {
      preHandler: anyone,
      schema: {
        tags: ['toolkits'],
        summary: 'List kits with their state: who holds each, since when, overdue, flagged',
        security: bearerSecurity,
        querystring: Type.Object({ ...ToolkitListQuery.properties, ...PaginationQuery }, { additionalProperties: false }),
        response: { 200: Page(Toolkit), ...problems(400, 401) },
      },
    },
    async (request) => {
      const { skip, limit, status, active, holder_id } = request.query;
      const page = await toolkits.list({ skip, limit, status, active, holderId: holder_id });
      return { items: page.items.map(toolkitDto), total: page.total, skip, limit };
    },
  );

  app.get(
    '/api/v1/toolkits/:id',
    {
      preHandler: anyone,
      schema: {
        tags: ['toolkits'],
        summary: 'A kit: contents, holder, since when, flagged operation',
        security: bearerSecurity,
        params: IdParams,
        response: { 200: Toolkit, ...problems(400, 401, 404) },
      },
    },
    async (request) => toolkitDto(await toolkits.get(request.params.id)),
  );

  app.post(
    '/api/v1/toolkits',
    {
      preHandler: admin,
      schema: {
        tags: ['toolkits'],
        summary: 'Create a kit with its items',
        security: bearerSecurity,
        body: CreateToolkitBody,
        response: { 201: Toolkit, ...problems(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      const { name, description, is_active } = request.body;
      const toolkit = await toolkits.create({ name, description, isActive: is_active, items: items(request.body) });
      return reply.code(201).send(toolkitDto(toolkit));
    },
  );

  app.patch(
    '/api/v1/toolkits/:id',
    {
      preHandler: admin,
      schema: {
        tags: ['toolkits'],
        summary: 'Edit a kit: name, description, active',
        security: bearerSecurity,
        params: IdParams,
        body: UpdateToolkitBody,
        response: { 200: Toolkit, ...problems(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const { name, description, is_active } = request.body;
      return toolkitDto(await toolkits.update(request.params.id, { name, description, isActive: is_active }));
    },
  );

  app.put(
    '/api/v1/toolkits/:id/items',
    {
      preHandler: admin,
      schema: {
        tags: ['toolkits'],
        summary: "Replace a kit's items",
        description: 'Refused (409 `toolkit.held`) while the kit is checked out.',
        security: bearerSecurity,
        params: IdParams,
        body: ReplaceItemsBody,
        response: { 200: Toolkit, ...problems(400, 401, 403, 404, 409) },
      },
    },
    async (request) => toolkitDto(await toolkits.replaceItems(request.params.id, items(request.body))),
  );

  app.delete(
    '/api/v1/toolkits/:id',
    {
      preHandler: admin,
      schema: {
        tags: ['toolkits'],
        summary: 'Delete a kit without history',
        description: 'A kit that operations or previews refer to cannot be deleted (409 `toolkit.has_history`): deactivate it.',
        security: bearerSecurity,
        params: IdParams,
        response: { 200: OkResponse, ...problems(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      await toolkits.delete(request.params.id);
      return { ok: true as const };
    },
  );
};
