/**
 * The web app's API types are generated from the service's own OpenAPI document: when a
 * route schema changes, the committed web/src/lib/api/schema.d.ts must be regenerated
 * (`npm run gen:api`), or the app is compiled against an API that no longer exists.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { serviceOpenApi, WEB_API_TYPES_FILE, webApiTypes } from '../../scripts/lib/web-api-types.js';

describe('web app API types', () => {
  it('match the service\'s current OpenAPI document (else run npm run gen:api)', async () => {
    const fresh = await webApiTypes(await serviceOpenApi());
    const committed = fs.readFileSync(WEB_API_TYPES_FILE, 'utf8');
    // A diff of 140 KB files is unreadable: say which operations differ first.
    const ops = (text: string) => new Set(text.match(/^ {4}"\/[^"]*": \{$/gm));
    expect([...ops(fresh)].filter((p) => !ops(committed).has(p)), 'routes missing from the committed types').toEqual([]);
    expect(committed === fresh, 'web/src/lib/api/schema.d.ts is stale: run npm run gen:api').toBe(true);
  });
});
