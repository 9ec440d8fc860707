import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../config/index.js';

export const SERVICE_NAME = 'toolcontrol';
export const SERVICE_VERSION: string = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')).version;
