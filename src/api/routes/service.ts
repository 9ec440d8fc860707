import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { SERVICE_NAME, SERVICE_VERSION } from '../../shared/version.js';
import type { Deps } from '../../deps.js';
import { prefersHtml, sendShell, varyOnAccept, type WebApp } from '../plugins/web-app.js';

const ModelStatusSchema = Type.Object(
  {
    loaded: Type.Boolean(),
    path: Type.String({ description: "The model's file name (e.g. `toolcontrol-yolo.onnx`), never its directory on the server" }),
    sha256: Type.Optional(Type.String()),
    task: Type.Optional(Type.String()),
    names: Type.Optional(Type.Record(Type.String(), Type.String())),
    imgsz: Type.Optional(Type.Array(Type.Integer())),
    stride: Type.Optional(Type.Integer()),
    batch: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
    version: Type.Optional(Type.String()),
    error: Type.Optional(Type.String()),
  },
  { $id: 'ModelStatus' },
);

const HealthSchema = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded'), Type.Literal('down')]),
  postgres: Type.Object({
    ok: Type.Boolean(),
    kind: Type.String(),
    latency_ms: Type.Union([Type.Number(), Type.Null()]),
    error: Type.Optional(Type.String()),
  }),
  redis: Type.Union([Type.Object({ ok: Type.Boolean() }), Type.Literal('not_configured')]),
  services: Type.Object(
    {
      postgresql: Type.Union([Type.Literal('connected'), Type.Literal('disconnected')]),
      redis: Type.Union([Type.Literal('connected'), Type.Literal('disconnected'), Type.Literal('not_configured')]),
    },
    { description: "The seed backend's `services` (its /base/health): the same checks as `postgres` and `redis`" },
  ),
  model: Type.Ref('ModelStatus'),
});

const ServiceInfoSchema = Type.Object({
  name: Type.String(),
  version: Type.String(),
  docs: Type.String(),
  model: Type.Ref('ModelStatus'),
});

/** `webApp`: the built web app, which a browser gets at / instead of the JSON (null: not built). */
export const serviceRoutes: FastifyPluginAsyncTypebox<{ deps: Deps; webApp: WebApp | null }> = async (app, { deps, webApp }) => {
  app.addSchema(ModelStatusSchema);

  app.get(
    '/',
    {
      schema: {
        tags: ['service'],
        summary: 'Service information',
        description:
          'JSON for API clients (no Accept, */*, application/json). When the web app is built, a request whose Accept ' +
          'prefers text/html (a browser) gets the app instead.',
        response: {
          200: {
            description: 'Service information, or the web app for a browser',
            content: {
              'application/json': { schema: ServiceInfoSchema },
              'text/html': { schema: Type.String({ description: 'The web app (index.html)' }) },
            },
          },
        },
      },
    },
    async (request, reply) => {
      if (webApp) {
        varyOnAccept(reply);
        if (prefersHtml(request)) return sendShell(reply, webApp);
      }
      return reply.header('content-type', 'application/json; charset=utf-8').send({
        name: SERVICE_NAME,
        version: SERVICE_VERSION,
        docs: '/docs',
        model: (await deps.services.health.check()).model,
      });
    },
  );

  app.get(
    '/base/health',
    {
      schema: {
        tags: ['service'],
        summary: 'Health of PostgreSQL, Redis and the model',
        description: '200 when the database answers (`degraded` if Redis or the model is not ok); 503 when the database is down.',
        response: { 200: HealthSchema, 503: HealthSchema },
      },
    },
    async (_request, reply) => {
      const report = await deps.services.health.check();
      return reply.code(report.status === 'down' ? 503 : 200).send(report);
    },
  );

  app.get(
    '/base/ready',
    {
      schema: {
        tags: ['service'],
        summary: 'Readiness for a load balancer or orchestrator',
        description:
          '200 only when this process can check kits: the database answers, the model is loaded and, when configured, Redis answers ' +
          '(sessions are checked there). 503 otherwise, with the same report as /base/health. /base/health stays 200 while degraded.',
        response: { 200: HealthSchema, 503: HealthSchema },
      },
    },
    async (_request, reply) => {
      const report = await deps.services.health.check();
      return reply.code(report.status === 'ok' ? 200 : 503).send(report);
    },
  );
};
