/**
 * Stored images (seed 000's /media/{filename}): access-checked and path-validated.
 * The token may come as `?access_token=` because <img> tags cannot send headers.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Deps } from '../../deps.js';
import { authenticate } from '../plugins/auth.js';
import { problems } from '../schemas/common.js';

export async function mediaRoutes(app: FastifyInstance, { deps }: { deps: Deps }): Promise<void> {
  app.get(
    '/media/*',
    {
      preHandler: authenticate({ allowQueryToken: true }),
      schema: {
        tags: ['media'],
        summary: 'A stored photo or annotated photo',
        description:
          'Engineers read the images of their own operations and previews; storekeepers and admins read all. Names with `..`, encoded separators or absolute paths are refused.',
        security: [{ bearerAuth: [] }],
        params: Type.Object({ '*': Type.String({ description: 'The image key, as in image_url' }) }),
        querystring: Type.Object({ access_token: Type.Optional(Type.String()) }),
        response: {
          200: Type.String({ format: 'binary', description: 'The image bytes' }),
          ...problems(400, 401, 403, 404),
        },
      },
    },
    async (request, reply) => {
      const key = (request.params as { '*': string })['*'];
      const file = await deps.services.mediaAccess.open(request.user, key);
      return reply
        .header('content-type', file.contentType)
        .header('content-length', String(file.size))
        .header('cache-control', 'private, max-age=3600')
        .header('x-content-type-options', 'nosniff')
        .send(file.stream);
    },
  );
}
