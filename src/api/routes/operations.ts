/**
 * Checkout/checkin with photo verification (multipart, and seed 001's base64 JSON
 * /api/v1/recognize), history, and the storekeeper's review queue.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Deps } from '../../deps.js';
import { BadRequestError } from '../../shared/errors.js';
import { authenticate, requireRole } from '../plugins/auth.js';
import { multipartSchema, readUpload } from '../plugins/multipart.js';
import { problems } from '../schemas/common.js';
import { HistoryQuerySchema, OperationFieldsSchema, RecognizeBodySchema, ResolveBodySchema } from '../schemas/operations.js';

const IdParams = Type.Object({ id: Type.Integer({ minimum: 1 }) });
const PageQuery = Type.Object({
  skip: Type.Integer({ minimum: 0, default: 0 }),
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
});

/** Base64 (optionally a data: URL) → bytes; 400 when it is not base64 at all. */
function decodeBase64Image(value: string): Buffer {
  const payload = value.replace(/^data:[^;,]*;base64,/, '').replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(payload)) {
    throw new BadRequestError('request.invalid_base64', 'image_base64 is not valid base64', {
      errors: [{ field: 'body.image_base64', message: 'must be base64' }],
    });
  }
  return Buffer.from(payload, 'base64');
}

export async function operationRoutes(root: FastifyInstance, { deps }: { deps: Deps }): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const operations = deps.services.operations;
  const run = (actor: { id: number; role: 'admin' | 'storekeeper' | 'engineer' }, input: {
    type: 'checkout' | 'checkin';
    toolkitId: number;
    engineerId?: number;
    image: Buffer;
    confidence?: number;
  }) => {
    const args = { actor, toolkitId: input.toolkitId, engineerId: input.engineerId, image: input.image, confidence: input.confidence };
    return input.type === 'checkout' ? operations.checkout(args) : operations.checkin(args);
  };

  const upload = multipartSchema(OperationFieldsSchema, { image: { description: 'Photo of the open kit' } });
  app.post(
    '/api/v1/operations',
    {
      preHandler: authenticate(),
      validatorCompiler: upload.validatorCompiler,
      schema: {
        ...upload.schema,
        tags: ['operations'],
        summary: 'Check a kit out or in with a photo',
        description:
          'Checkout needs an available, active kit (409 otherwise) and leaves it held by the engineer. Checkin needs the kit held by that engineer (a storekeeper may receive it for them). The photo, the annotated photo and the operation are recorded all-or-nothing.',
        security: [{ bearerAuth: [] }],
        response: { 201: Type.Ref('Operation'), ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503) },
      },
    },
    async (request, reply) => {
      const { fields, files } = await readUpload(request, OperationFieldsSchema, ['image']);
      if (files.length !== 1) {
        throw new BadRequestError('request.validation_failed', 'Send exactly one file in the "image" field', {
          errors: [{ field: 'image', message: 'exactly one file is required' }],
        });
      }
      const operation = await run(request.user, {
        type: fields.operation_type,
        toolkitId: fields.toolkit_id,
        engineerId: fields.engineer_id,
        image: files[0]!.data,
        confidence: fields.confidence,
      });
      return reply.code(201).send(operation);
    },
  );

  app.post(
    '/api/v1/recognize',
    {
      preHandler: authenticate(),
      schema: {
        tags: ['operations'],
        summary: 'Check a kit out or in with a base64 photo (seed 001 contract)',
        security: [{ bearerAuth: [] }],
        body: RecognizeBodySchema,
        response: { 200: Type.Ref('Operation'), ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503) },
      },
    },
    async (request) => {
      const body = request.body;
      return run(request.user, {
        type: body.operation_type,
        toolkitId: body.toolkit_id,
        engineerId: body.engineer_id,
        image: decodeBase64Image(body.image_base64),
        confidence: body.confidence,
      });
    },
  );

  app.get(
    '/api/v1/history',
    {
      preHandler: authenticate(),
      schema: {
        tags: ['operations'],
        summary: 'Operations, newest first (engineers see only their own)',
        description: 'Paged with the seed\'s skip/limit; the total is in the X-Total-Count header.',
        security: [{ bearerAuth: [] }],
        querystring: HistoryQuerySchema,
        response: { 200: Type.Array(Type.Ref('Operation')), ...problems(400, 401) },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const { items, total } = await operations.history(
        request.user,
        {
          userId: q.user_id,
          toolkitId: q.toolkit_id,
          operationType: q.operation_type,
          status: q.status,
          from: q.from ? new Date(q.from) : undefined,
          to: q.to ? new Date(q.to) : undefined,
        },
        { skip: q.skip, limit: q.limit },
      );
      return reply.header('x-total-count', String(total)).send(items);
    },
  );

  app.get(
    '/api/v1/operations/:id',
    {
      preHandler: authenticate(),
      schema: {
        tags: ['operations'],
        summary: 'One operation with its review audit',
        security: [{ bearerAuth: [] }],
        params: IdParams,
        response: {
          200: Type.Intersect([Type.Ref('Operation'), Type.Object({ audit: Type.Array(Type.Ref('ReviewAuditEntry')) })]),
          ...problems(400, 401, 404),
        },
      },
    },
    async (request) => operations.get(request.user, request.params.id),
  );

  app.get(
    '/api/v1/reviews',
    {
      preHandler: [authenticate(), requireRole('storekeeper', 'admin')],
      schema: {
        tags: ['review'],
        summary: 'Operations waiting for review (manual_check or discrepancy, unresolved), oldest first',
        security: [{ bearerAuth: [] }],
        querystring: PageQuery,
        response: { 200: Type.Array(Type.Ref('Operation')), ...problems(400, 401, 403) },
      },
    },
    async (request) => operations.reviews(request.query),
  );

  app.post(
    '/api/v1/operations/:id/resolve',
    {
      preHandler: [authenticate(), requireRole('storekeeper', 'admin')],
      schema: {
        tags: ['review'],
        summary: 'Resolve a manual_check or discrepancy operation (audited)',
        description:
          'A flagged checkin is closed by its resolution: the kit returns to the tool room; the decision, the note and the corrected counts stay in the audit. ' +
          'Nobody resolves an operation of their own (403 `operation.own_review`).',
        security: [{ bearerAuth: [] }],
        params: IdParams,
        body: ResolveBodySchema,
        response: {
          200: Type.Object({ operation: Type.Ref('Operation'), audit: Type.Ref('ReviewAuditEntry') }),
          ...problems(400, 401, 403, 404, 409),
        },
      },
    },
    async (request) => {
      const body = request.body;
      return operations.resolve({
        reviewer: request.user,
        operationId: request.params.id,
        decision: body.decision,
        note: body.note,
        correctedCounts: body.corrected_counts,
      });
    },
  );
}
