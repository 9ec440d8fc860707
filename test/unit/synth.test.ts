import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TOOL_CLASSES } from '../../src/domain/tool-classes.js';
import { dataYaml, labelLines, writeDataset } from '../../src/synth/dataset.js';
import { renderScene, toolsRemoved } from '../../src/synth/scene.js';
import { tempDir } from '../helpers/config.js';

describe('renderScene', () => {
  it('is deterministic: the same seed gives the same bytes and boxes', async () => {
    const [a, b] = await Promise.all([renderScene({ seed: 77, kit: 'random' }), renderScene({ seed: 77, kit: 'random' })]);
    expect(a.jpeg.equals(b.jpeg)).toBe(true);
    expect(a.objects).toEqual(b.objects);
    const c = await renderScene({ seed: 78, kit: 'random' });
    expect(c.jpeg.equals(a.jpeg)).toBe(false);
  });

  it('lays out a full kit: one of each tool, inside the frame, not overlapping', async () => {
    const scene = await renderScene({ seed: 4242, kit: 'full' });
    expect(scene.objects.map((o) => o.key).sort()).toEqual(TOOL_CLASSES.map((c) => c.key).sort());
    for (const o of scene.objects) {
      expect(o.box.x1).toBeGreaterThanOrEqual(0);
      expect(o.box.y1).toBeGreaterThanOrEqual(0);
      expect(o.box.x2).toBeLessThanOrEqual(scene.width);
      expect(o.box.y2).toBeLessThanOrEqual(scene.height);
      expect(o.box.x2 - o.box.x1).toBeGreaterThan(8);
      expect(o.box.y2 - o.box.y1).toBeGreaterThan(8);
      expect(o.classId).toBe(TOOL_CLASSES.findIndex((c) => c.key === o.key));
    }
  });

  it('leaves out the tools it is told to', async () => {
    const scene = await renderScene({ seed: 4243, kit: 'full', without: ['pliers', 'side_cutters'] });
    const keys = scene.objects.map((o) => o.key);
    expect(keys).toHaveLength(9);
    expect(keys).not.toContain('pliers');
    expect(keys).not.toContain('side_cutters');
  });

  it('renders any size as a real JPEG', async () => {
    const scene = await renderScene({ seed: 5, width: 1280, height: 720, kit: 'full' });
    expect(scene.jpeg.subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));
    expect(scene).toMatchObject({ width: 1280, height: 720 });
    expect(Math.max(...scene.objects.map((o) => o.box.x2))).toBeGreaterThan(640 * 0.5);
  });

  it('varies contents in random kits: duplicates and absences occur', async () => {
    const scenes = await Promise.all(Array.from({ length: 8 }, (_, i) => renderScene({ seed: 500 + i, kit: 'random' })));
    const counts = scenes.map((s) => new Map(s.objects.map((o) => [o.key, s.objects.filter((x) => x.key === o.key).length])));
    expect(counts.some((c) => [...c.values()].some((n) => n > 1))).toBe(true);
    expect(counts.some((c) => c.size < TOOL_CLASSES.length)).toBe(true);
  });
});

describe('Ultralytics dataset', () => {
  it('writes images, normalised labels and data.yaml with the 11 names', async () => {
    const tmp = tempDir();
    try {
      const result = await writeDataset({ out: tmp.dir, count: 5, seed: 31, kit: 'full', valFraction: 0.2, concurrency: 2 });
      expect(result).toEqual({ train: 4, val: 1 });
      const images = fs.readdirSync(path.join(tmp.dir, 'images/train'));
      expect(images).toHaveLength(4);
      const label = fs.readFileSync(path.join(tmp.dir, 'labels/train', images[0]!.replace('.jpg', '.txt')), 'utf8').trim().split('\n');
      expect(label).toHaveLength(11);
      for (const line of label) {
        const [cls, ...rest] = line.split(' ').map(Number);
        expect(Number.isInteger(cls)).toBe(true);
        expect(cls).toBeGreaterThanOrEqual(0);
        expect(cls).toBeLessThan(11);
        for (const v of rest) {
          expect(v).toBeGreaterThan(0);
          expect(v).toBeLessThanOrEqual(1);
        }
      }
      const yaml = fs.readFileSync(path.join(tmp.dir, 'data.yaml'), 'utf8');
      expect(yaml).toContain('nc: 11');
      expect(yaml).toContain('10: side_cutters');
      expect(fs.readdirSync(path.join(tmp.dir, 'images/val'))).toHaveLength(1);
    } finally {
      tmp.cleanup();
    }
  });

  it('takes 0 to N tools out of full kits with --missing, the same ones eval:model takes for that seed', async () => {
    const tmp = tempDir();
    try {
      await writeDataset({ out: tmp.dir, count: 12, seed: 500, kit: 'full', missingUpTo: 2, valFraction: 0, concurrency: 2 });
      const counts = [];
      for (let i = 0; i < 12; i++) {
        const lines = fs.readFileSync(path.join(tmp.dir, 'labels/train', `scene_${String(500 + i).padStart(8, '0')}.txt`), 'utf8').trim().split('\n');
        const removed = toolsRemoved(500 + i, 2);
        expect(lines).toHaveLength(11 - removed.length);
        const present = new Set(lines.map((l) => TOOL_CLASSES[Number(l.split(' ')[0])]!.key));
        for (const key of removed) expect(present.has(key)).toBe(false);
        counts.push(removed.length);
      }
      expect(new Set(counts)).toEqual(new Set([0, 1, 2]));
    } finally {
      tmp.cleanup();
    }
  });

  it('normalises boxes by the image size', () => {
    const line = labelLines({ width: 200, height: 100, objects: [{ key: 'brace', classId: 3, box: { x1: 50, y1: 25, x2: 150, y2: 75 } }] });
    expect(line).toBe('3 0.500000 0.500000 0.500000 0.500000');
    expect(dataYaml('/d')).toMatch(/^path: \/d$/m);
  });
});
