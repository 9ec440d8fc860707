/** /api/v1/model: class-name aliases and per-class thresholds (admin writes; storekeepers read). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Deps } from '../../deps.js';
import { bearerSecurity, requireRole } from '../plugins/auth.js';
import { OkResponse } from '../schemas/auth.js';
import { problems } from '../schemas/common.js';
import {
  AliasBody,
  aliasDto,
  AliasParams,
  AliasSchema,
  ThresholdBody,
  thresholdDto,
  ThresholdParams,
  ThresholdSchema,
} from '../schemas/model-settings.js';

export const modelSettingsRoutes: FastifyPluginAsyncTypebox<{ deps: Deps }> = async (app, { deps }) => {
  const settings = deps.services.modelSettings;
  const readers = requireRole('admin', 'storekeeper');
  const admin = requireRole('admin');

  app.get(
    '/api/v1/model/aliases',
    {
      preHandler: readers,
      schema: {
        tags: ['model'],
        summary: 'Model class name → tool class key aliases',
        security: bearerSecurity,
        response: { 200: Type.Array(AliasSchema), ...problems(401, 403) },
      },
    },
    async () => (await settings.listAliases()).map(aliasDto),
  );

  app.put(
    '/api/v1/model/aliases/:model_class_name',
    {
      preHandler: admin,
      schema: {
        tags: ['model'],
        summary: 'Map a model class name to a tool class key',
        description: "Lets a model whose metadata names classes differently (e.g. '7', 'Шэрница') be used without code changes.",
        security: bearerSecurity,
        params: AliasParams,
        body: AliasBody,
        response: { 200: AliasSchema, ...problems(400, 401, 403) },
      },
    },
    async (request) => aliasDto(await settings.setAlias(request.params.model_class_name, request.body.class_key)),
  );

  app.delete(
    '/api/v1/model/aliases/:model_class_name',
    {
      preHandler: admin,
      schema: {
        tags: ['model'],
        summary: 'Remove an alias',
        security: bearerSecurity,
        params: AliasParams,
        response: { 200: OkResponse, ...problems(400, 401, 403, 404) },
      },
    },
    async (request) => {
      await settings.deleteAlias(request.params.model_class_name);
      return { ok: true as const };
    },
  );

  app.get(
    '/api/v1/model/thresholds',
    {
      preHandler: readers,
      schema: {
        tags: ['model'],
        summary: 'Per-class confidence thresholds',
        security: bearerSecurity,
        response: { 200: Type.Array(ThresholdSchema), ...problems(401, 403) },
      },
    },
    async () => (await settings.listThresholds()).map(thresholdDto),
  );

  app.put(
    '/api/v1/model/thresholds/:class_key',
    {
      preHandler: admin,
      schema: {
        tags: ['model'],
        summary: "Set a class's confidence threshold",
        security: bearerSecurity,
        params: ThresholdParams,
        body: ThresholdBody,
        response: { 200: ThresholdSchema, ...problems(400, 401, 403) },
      },
    },
    async (request) =>
      thresholdDto(await settings.setThreshold(request.params.class_key, request.body.threshold, request.user.id)),
  );

  app.delete(
    '/api/v1/model/thresholds/:class_key',
    {
      preHandler: admin,
      schema: {
        tags: ['model'],
        summary: "Remove a class's threshold (the request confidence applies again)",
        security: bearerSecurity,
        params: ThresholdParams,
        response: { 200: OkResponse, ...problems(400, 401, 403, 404) },
      },
    },
    async (request) => {
      await settings.deleteThreshold(request.params.class_key);
      return { ok: true as const };
    },
  );
};
