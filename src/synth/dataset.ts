/**
 * Writes rendered scenes as an Ultralytics dataset: images/<split>/*.jpg,
 * labels/<split>/*.txt (`class cx cy w h`, normalised) and data.yaml.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ToolClassKey } from '../domain/tool-classes.js';
import { TOOL_CLASSES } from '../domain/tool-classes.js';
import { renderScene, toolsRemoved, type Scene } from './scene.js';

export interface DatasetOptions {
  out: string;
  count: number;
  /** Scene i uses seed `seed + i`. */
  seed: number;
  kit?: 'full' | 'random';
  without?: readonly ToolClassKey[];
  /** Full kits: each scene also lacks 0 to this many tools, chosen from its seed (toolsRemoved). */
  missingUpTo?: number;
  width?: number;
  height?: number;
  /** Share of scenes written to the `val` split (the last ones). Default 0.1. */
  valFraction?: number;
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

/** One label line per object, as Ultralytics reads them. */
export function labelLines(scene: Pick<Scene, 'objects' | 'width' | 'height'>): string {
  return scene.objects
    .map((o) => {
      const cx = (o.box.x1 + o.box.x2) / 2 / scene.width;
      const cy = (o.box.y1 + o.box.y2) / 2 / scene.height;
      const w = (o.box.x2 - o.box.x1) / scene.width;
      const h = (o.box.y2 - o.box.y1) / scene.height;
      return `${o.classId} ${cx.toFixed(6)} ${cy.toFixed(6)} ${w.toFixed(6)} ${h.toFixed(6)}`;
    })
    .join('\n');
}

export function dataYaml(root: string): string {
  const names = TOOL_CLASSES.map((c, i) => `  ${i}: ${c.key}`).join('\n');
  return `# toolcontrol synthetic toolkit scenes\npath: ${root}\ntrain: images/train\nval: images/val\nnc: ${TOOL_CLASSES.length}\nnames:\n${names}\n`;
}

export async function writeDataset(options: DatasetOptions): Promise<{ train: number; val: number }> {
  const root = path.resolve(options.out);
  const valCount = Math.round(options.count * (options.valFraction ?? 0.1));
  for (const split of ['train', 'val']) {
    fs.mkdirSync(path.join(root, 'images', split), { recursive: true });
    fs.mkdirSync(path.join(root, 'labels', split), { recursive: true });
  }
  let next = 0;
  let done = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= options.count) return;
      const removed = options.missingUpTo ? toolsRemoved(options.seed + i, options.missingUpTo) : [];
      const without = [...new Set([...(options.without ?? []), ...removed])];
      const scene = await renderScene({
        seed: options.seed + i,
        kit: options.kit ?? 'random',
        ...(without.length > 0 ? { without } : {}),
        ...(options.width ? { width: options.width } : {}),
        ...(options.height ? { height: options.height } : {}),
      });
      const split = i >= options.count - valCount ? 'val' : 'train';
      const name = `scene_${String(options.seed + i).padStart(8, '0')}`;
      fs.writeFileSync(path.join(root, 'images', split, `${name}.jpg`), scene.jpeg);
      fs.writeFileSync(path.join(root, 'labels', split, `${name}.txt`), labelLines(scene) + '\n');
      options.onProgress?.(++done, options.count);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 4 }, worker));
  fs.writeFileSync(path.join(root, 'data.yaml'), dataYaml(root));
  return { train: options.count - valCount, val: valCount };
}
