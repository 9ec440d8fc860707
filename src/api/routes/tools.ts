/** /api/v1/tools: the tool register (admin writes; storekeepers read). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Deps } from '../../deps.js';
import { bearerSecurity, requireRole } from '../plugins/auth.js';
import { OkResponse } from '../schemas/auth.js';
import { problems } from '../schemas/common.js';
import { IdParams, Page, PaginationQuery } from '../schemas/pagination.js';
import { CreateToolBody, ToolListQuery, toolDto, ToolSchema, UpdateToolBody } from '../schemas/tools.js';

export const toolRoutes: FastifyPluginAsyncTypebox<{ deps: Deps }> = async (app, { deps }) => {
  const tools = deps.services.tools;
  const readers = requireRole('admin', 'storekeeper');
  const admin = requireRole('admin');
  const Tool = Type.Ref('Tool');
  app.addSchema(ToolSchema);

  app.get(
    '/api/v1/tools',
    {
      preHandler: readers,
      schema: {
        tags: ['tools'],
        summary: 'List tools',
        security: bearerSecurity,
        querystring: Type.Object({ ...ToolListQuery.properties, ...PaginationQuery }, { additionalProperties: false }),
        response: { 200: Page(Tool), ...problems(400, 401, 403) },
      },
    },
    async (request) => {
      const { skip, limit, class_key, category, active, q } = request.query;
      const page = await tools.list({ skip, limit, classKey: class_key, category, active, q });
      return { items: page.items.map(toolDto), total: page.total, skip, limit };
    },
  );

  app.post(
    '/api/v1/tools',
    {
      preHandler: admin,
      schema: {
        tags: ['tools'],
        summary: 'Register a tool',
        security: bearerSecurity,
        body: CreateToolBody,
        response: { 201: Tool, ...problems(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      const { name, serial_number, category, class_key, is_active } = request.body;
      const tool = await tools.create({ name, serialNumber: serial_number, category, classKey: class_key, isActive: is_active });
      return reply.code(201).send(toolDto(tool));
    },
  );

  app.get(
    '/api/v1/tools/:id',
    {
      preHandler: readers,
      schema: {
        tags: ['tools'],
        summary: 'A tool',
        security: bearerSecurity,
        params: IdParams,
        response: { 200: Tool, ...problems(400, 401, 403, 404) },
      },
    },
    async (request) => toolDto(await tools.get(request.params.id)),
  );

  app.patch(
    '/api/v1/tools/:id',
    {
      preHandler: admin,
      schema: {
        tags: ['tools'],
        summary: 'Edit a tool (is_active: false retires it)',
        description: 'Its class_key cannot change while a kit holding it is checked out (409 `tool.in_held_kit`).',
        security: bearerSecurity,
        params: IdParams,
        body: UpdateToolBody,
        response: { 200: Tool, ...problems(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const { name, serial_number, category, class_key, is_active } = request.body;
      const tool = await tools.update(request.params.id, {
        name,
        serialNumber: serial_number,
        category,
        classKey: class_key,
        isActive: is_active,
      });
      return toolDto(tool);
    },
  );

  app.delete(
    '/api/v1/tools/:id',
    {
      preHandler: admin,
      schema: {
        tags: ['tools'],
        summary: 'Delete a tool without history',
        description: 'A tool in a kit with recorded operations cannot be deleted (409 `tool.has_history`): deactivate it.',
        security: bearerSecurity,
        params: IdParams,
        response: { 200: OkResponse, ...problems(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      await tools.delete(request.params.id);
      return { ok: true as const };
    },
  );
};
