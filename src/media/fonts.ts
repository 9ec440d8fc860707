import path from 'node:path';
import { PROJECT_ROOT } from '../config/index.js';

/** The font labels are drawn with, shipped in the repo (no system fonts needed; Cyrillic included). */
export const FONT_PATH = path.join(PROJECT_ROOT, 'assets/fonts/DejaVuSans.ttf');
