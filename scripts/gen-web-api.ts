/** npm run gen:api: regenerate the web app's API types from the service's OpenAPI document. */
import fs from 'node:fs';
import { serviceOpenApi, WEB_API_TYPES_FILE, webApiTypes } from './lib/web-api-types.js';

const text = await webApiTypes(await serviceOpenApi());
fs.writeFileSync(WEB_API_TYPES_FILE, text);
console.log(`wrote ${WEB_API_TYPES_FILE} (${text.length} characters)`);
