/**
 * The web app's API types, generated from the service's own OpenAPI document with
 * openapi-typescript. `npm run gen:api` writes them to web/src/lib/api/schema.d.ts; a test
 * regenerates them and fails when the committed file is stale.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import openapiTS, { astToString } from 'openapi-typescript';
import { createApp } from '../../src/app.js';
import { loadConfig, PROJECT_ROOT } from '../../src/config/index.js';

export const WEB_API_TYPES_FILE = path.join(PROJECT_ROOT, 'web/src/lib/api/schema.d.ts');

const HEADER =
  '/**\n * Generated from the service\'s /openapi.json by `npm run gen:api` (openapi-typescript).\n' +
  ' * Do not edit: change the route schemas and regenerate; a test fails when this file is stale.\n */\n\n';

/** The OpenAPI document of an app built with default settings, no model and a throwaway database. */
export async function serviceOpenApi(): Promise<Record<string, unknown>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'toolcontrol-openapi-'));
  try {
    const config = loadConfig({
      DATA_DIR: dir,
      LOG_LEVEL: 'silent',
      ADMIN_PASSWORD: 'openapi-generation-only',
      JWT_SECRET: 'openapi-generation-only-openapi-generation-only',
    });
    const built = await createApp(config, { detector: null });
    try {
      return built.app.swagger() as unknown as Record<string, unknown>;
    } finally {
      await built.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * TypeBox lists a query field with a default (skip, limit) as required, and the document
 * says so, though the service fills the default in: a client may leave such a field out.
 */
function optionalDefaults(spec: Record<string, unknown>): Record<string, unknown> {
  const copy = structuredClone(spec) as { paths?: Record<string, Record<string, { parameters?: Array<{ required?: boolean; schema?: { default?: unknown } }> }>> };
  for (const item of Object.values(copy.paths ?? {})) {
    for (const operation of Object.values(item)) {
      for (const p of operation?.parameters ?? []) if (p.schema?.default !== undefined) p.required = false;
    }
  }
  return copy;
}

export async function webApiTypes(spec: Record<string, unknown>): Promise<string> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const ast = await openapiTS(optionalDefaults(spec) as any, { alphabetize: false });
  return HEADER + astToString(ast);
}
