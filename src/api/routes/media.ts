/**
 * Stored images (seed 000's /media/{filename}): access-checked and path-validated.
 *
 * Opens with either a signed URL (`?exp=&sig=`, as every image URL in a response comes:
 * `<img src>` shows it with no header and no token) or an access token with access to
 * the image. The token may come as `?access_token=` (kept for old clients; discouraged:
 * tokens in URLs end up in logs and browser history).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Deps } from '../../deps.js';
import { UnauthorizedError } from '../../shared/errors.js';
import { authenticate, bearerToken } from '../plugins/auth.js';
import { problems } from '../schemas/common.js';

interface MediaQuery {
  access_token?: string;
  exp?: string;
  sig?: string;
}

const MediaQuerySchema = Type.Object({
  exp: Type.Optional(Type.String({ description: 'Signed URL: when it expires (unix seconds)' })),
  sig: Type.Optional(Type.String({ description: 'Signed URL: its signature (base64url HMAC-SHA256)' })),
  access_token: Type.Optional(Type.String({ description: 'Discouraged: an access token in the URL (ends up in logs and history)' })),
});

const signedRequests = new WeakSet<FastifyRequest>();

export async function mediaRoutes(app: FastifyInstance, { deps }: { deps: Deps }): Promise<void> {
  const withToken = authenticate({ allowQueryToken: true });
  const description =
    'Every image URL the API returns is signed for `MEDIA_URL_TTL` seconds (`?exp=…&sig=…`) and opens with no token. ' +
    'Without a valid signature an access token is needed: engineers read the images of their own operations and previews; ' +
    'storekeepers and admins read all. An expired or wrong signature without a token → 401 (`media.url_expired`, ' +
    '`media.url_invalid`). Names with `..`, encoded separators or absolute paths are refused. The filename is the key as in ' +
    '`image_url` and may hold slashes (`previews/2026/11/<uuid>_annotated.jpg`).';
  app.get(
    '/media/*',
    {
      preHandler: async function mediaAccess(request, reply) {
        const key = (request.params as { '*': string })['*'];
        const query = request.query as MediaQuery;
        if (query.exp !== undefined || query.sig !== undefined) {
          const check = deps.mediaUrls.verify(key, query.exp, query.sig);
          if (check === 'valid') {
            signedRequests.add(request);
            return;
          }
          if (bearerToken(request) === undefined && !query.access_token) {
            reply.header('www-authenticate', 'Bearer realm="toolcontrol"');
            throw check === 'expired'
              ? new UnauthorizedError('media.url_expired', 'This image link has expired; fetch the record again for a fresh one')
              : new UnauthorizedError('media.url_invalid', 'This image link is not valid (wrong signature)');
          }
        }
        await withToken.call(this, request, reply);
      },
      // The OpenAPI document names the key `filename` (seed 000's /media/{filename}); the route
      // itself is a wildcard, since keys hold slashes.
      config: {
        swaggerTransform: ({ schema }) => ({
          url: '/media/:filename',
          schema: { ...schema, params: Type.Object({ filename: Type.String({ description: 'The image key, as in image_url (may hold slashes)' }) }) },
        }),
      },
      schema: {
        tags: ['media'],
        summary: 'A stored photo or annotated photo',
        description,
        security: [{ bearerAuth: [] }, {}],
        params: Type.Object({ '*': Type.String({ description: 'The image key, as in image_url' }) }),
        querystring: MediaQuerySchema,
        response: {
          200: Type.String({ format: 'binary', description: 'The image bytes' }),
          ...problems(400, 401, 403, 404),
        },
      },
    },
    async (request, reply) => {
      const key = (request.params as { '*': string })['*'];
      const viewer = signedRequests.has(request) ? null : request.user;
      const file = await deps.services.mediaAccess.open(viewer, key);
      return reply
        .header('content-type', file.contentType)
        .header('content-length', String(file.size))
        .header('cache-control', 'private, max-age=3600')
        .header('x-content-type-options', 'nosniff')
        .send(file.stream);
    },
  );
}
