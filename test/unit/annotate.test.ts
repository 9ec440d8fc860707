import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { annotateImage, colourFor, escapeMarkup, labelText, legendFor, styleFor, textColourOn } from '../../src/media/annotate.js';
import { FONT_PATH } from '../../src/media/fonts.js';
import { PROJECT_ROOT } from '../../src/config/index.js';
import { tempDir } from '../helpers/config.js';

const grey = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: { r: 128, g: 128, b: 128 } } }).jpeg().toBuffer();

async function pixels(jpeg: Buffer) {
  const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
  return { at: (x: number, y: number) => Array.from(data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)), info, data };
}

/** Pixels in a region that are far from the grey background. */
function changedIn(p: Awaited<ReturnType<typeof pixels>>, x0: number, y0: number, x1: number, y1: number): number {
  let n = 0;
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (p.at(x, y).some((c) => Math.abs(c - 128) > 40)) n++;
  return n;
}

describe('annotateImage', () => {
  it('draws boxes in the class colour, a label tab and the legend of missing tools', async () => {
    const image = await grey(640, 480);
    const out = await annotateImage({
      image,
      fontPath: FONT_PATH,
      detections: [{ toolKey: 'pliers', label: 'Пассатижи', confidence: 0.87, box: { x1: 100, y1: 100, x2: 300, y2: 250 } }],
      missing: [{ label: 'Бокорезы', count: 1 }],
    });
    const p = await pixels(out);
    expect(await sharp(out).metadata()).toMatchObject({ format: 'jpeg', width: 640, height: 480 });
    expect(p.info).toMatchObject({ width: 640, height: 480 });
    // The box edge carries the class colour (pliers: #008080 teal).
    const edge = p.at(200, 100);
    expect(edge[1]!).toBeGreaterThan(90);
    expect(edge[0]!).toBeLessThan(60);
    // Inside the box the photo is untouched.
    expect(p.at(200, 180).every((c) => Math.abs(c - 128) < 12)).toBe(true);
    // The label tab above the box has text: white glyph pixels on the coloured tab.
    let white = 0;
    for (let y = 78; y < 100; y++) for (let x = 102; x < 200; x++) if (p.at(x, y).every((c) => c > 200)) white++;
    expect(white).toBeGreaterThan(20);
    // The legend (bottom left, red) is there.
    expect(changedIn(p, 0, 440, 120, 480)).toBeGreaterThan(500);
  });

  it('upright-orients the photo before drawing (EXIF orientation 6)', async () => {
    const stored = await sharp({ create: { width: 400, height: 300, channels: 3, background: { r: 128, g: 128, b: 128 } } })
      .withMetadata({ orientation: 6 })
      .jpeg()
      .toBuffer();
    const out = await annotateImage({ image: stored, fontPath: FONT_PATH, detections: [], missing: [] });
    expect(await sharp(out).metadata()).toMatchObject({ width: 300, height: 400 });
  });

  it('bounds large photos to 2048 px and scales the boxes with them', async () => {
    const image = await grey(4000, 3000);
    const out = await annotateImage({
      image,
      fontPath: FONT_PATH,
      detections: [{ toolKey: 'brace', label: 'Коловорот', confidence: 0.5, box: { x1: 2000, y1: 1000, x2: 3000, y2: 2000 }, uncertain: true }],
      missing: [],
    });
    const p = await pixels(out);
    expect(p.info).toMatchObject({ width: 2048, height: 1536 });
    expect(changedIn(p, 1020, 1010, 1030, 1020)).toBeGreaterThan(0); // left edge at x = 2000 × 0.512
  });

  it('says «Комплект полный» on a green legend when nothing is missing', async () => {
    const out = await annotateImage({ image: await grey(640, 480), fontPath: FONT_PATH, detections: [], missing: [] });
    const p = await pixels(out);
    // Green panel (#1b7f3b) at the bottom left, with white text on it.
    const [r, g, b] = p.at(3, 477);
    expect(g!).toBeGreaterThan(r! + 40);
    expect(g!).toBeGreaterThan(b! + 40);
    let white = 0;
    for (let y = 440; y < 480; y++) for (let x = 0; x < 160; x++) if (p.at(x, y).every((c) => c > 200)) white++;
    expect(white).toBeGreaterThan(30);
    expect(legendFor({ missing: [], detections: [] }).lines).toEqual(['Комплект полный']);
  });

  it('lists missing tools in Russian and flags uncertain detections in the legend', () => {
    const legend = legendFor({
      missing: [{ label: 'Бокорезы', count: 1 }, { label: 'Шэрница', count: 2 }],
      detections: [{ toolKey: 'pliers', label: 'Пассатижи', confidence: 0.4, box: { x1: 0, y1: 0, x2: 1, y2: 1 }, uncertain: true }],
    });
    expect(legend.lines).toEqual(['Отсутствует:', '• Бокорезы ×1', '• Шэрница ×2', 'Пунктир — требует проверки: 1']);
    expect(labelText({ label: 'Пассатижи', confidence: 0.874, uncertain: true })).toBe('Пассатижи 0.87 ?');
    expect(labelText({ label: '  ', confidence: 1 })).toBe('? 1.00');
  });

  it('lists extra tools too: a kit with a tool too many is not «Комплект полный»', () => {
    const extraOnly = legendFor({ missing: [], extra: [{ label: 'Пассатижи', count: 1 }], detections: [] });
    expect(extraOnly.lines).toEqual(['Лишние:', '• Пассатижи ×1']);
    expect(extraOnly.colour).toBe(legendFor({ missing: [{ label: 'Бокорезы', count: 1 }], detections: [] }).colour);
    expect(extraOnly.colour).not.toBe(legendFor({ missing: [], detections: [] }).colour);
    const both = legendFor({ missing: [{ label: 'Бокорезы', count: 1 }], extra: [{ label: 'Пассатижи', count: 2 }], detections: [] });
    expect(both.lines).toEqual(['Отсутствует:', '• Бокорезы ×1', 'Лишние:', '• Пассатижи ×2']);
  });

  it('fills segment polygons translucently and dashes uncertain boxes', async () => {
    const out = await annotateImage({
      image: await grey(640, 480),
      fontPath: FONT_PATH,
      detections: [
        {
          toolKey: 'side_cutters', // #000075 navy
          label: 'Бокорезы',
          confidence: 0.9,
          box: { x1: 300, y1: 200, x2: 500, y2: 400 },
          polygon: [[320, 220], [480, 220], [480, 380], [320, 380]],
        },
        { toolKey: 'brace', label: 'Коловорот', confidence: 0.42, uncertain: true, box: { x1: 40, y1: 100, x2: 240, y2: 300 } },
      ],
      missing: [],
    });
    const p = await pixels(out);
    // Inside the polygon: tinted towards navy, but the photo still shows through.
    const [r, g, b] = p.at(400, 300);
    expect(b!).toBeGreaterThan(r! + 20);
    expect(r!).toBeGreaterThan(50);
    // Along the dashed bottom edge of the uncertain box both line and gap pixels occur.
    const { stroke } = styleFor(640, 480);
    const edgeY = 300 - Math.ceil(stroke / 2);
    let line = 0;
    let gap = 0;
    for (let x = 50; x < 230; x++) (p.at(x, edgeY).some((c) => Math.abs(c - 128) > 40) ? line++ : gap++);
    expect(line).toBeGreaterThan(40);
    expect(gap).toBeGreaterThan(40);
  });

  it('copes with photos smaller than a label (labels cut, not dropped, never an error)', async () => {
    const out = await annotateImage({
      image: await grey(48, 32),
      fontPath: FONT_PATH,
      detections: [{ toolKey: 'oil_can_opener', label: 'Открывашка для банок с маслом', confidence: 0.99, box: { x1: -10, y1: 5, x2: 400, y2: 300 } }],
      missing: [{ label: 'Отвертка на смещенный крест', count: 1 }],
    });
    expect(await sharp(out).metadata()).toMatchObject({ format: 'jpeg', width: 48, height: 32 });
  });

  it('draws on a JPEG with stray bytes before a marker, as recognition reads it', async () => {
    const jpeg = await grey(64, 48);
    const sos = jpeg.indexOf(Buffer.from([0xff, 0xda]));
    const stray = Buffer.concat([jpeg.subarray(0, sos), Buffer.from([0x00, 0x00]), jpeg.subarray(sos)]);
    const out = await annotateImage({ image: stray, fontPath: FONT_PATH, detections: [], missing: [] });
    expect(await sharp(out).metadata()).toMatchObject({ format: 'jpeg', width: 64, height: 48 });
  });

  it('refuses to draw without the font file rather than falling back silently', async () => {
    await expect(annotateImage({ image: await grey(64, 48), fontPath: '/nonexistent/DejaVuSans.ttf', detections: [], missing: [] })).rejects.toThrow(/font not found/);
  });

  it('keeps label text readable on every class colour', () => {
    expect(textColourOn('#000075')).toBe('#ffffff');
    expect(textColourOn('#f0f0f0')).toBe('#000000');
    expect(styleFor(2048, 1536).fontPx / styleFor(640, 480).fontPx).toBeCloseTo(3.2, 0);
  });

  it('treats labels as text, not markup, and gives unknown classes grey', () => {
    expect(escapeMarkup('<b>Ключ & Co</b>')).toBe('&lt;b&gt;Ключ &amp; Co&lt;/b&gt;');
    expect(colourFor(null)).toBe('#808080');
    expect(colourFor('side_cutters')).not.toBe(colourFor('pliers'));
  });

  it('renders Cyrillic labels with the shipped font on a machine without system fonts', async () => {
    const tmp = tempDir();
    try {
      // An empty fontconfig: no font directories at all.
      const conf = path.join(tmp.dir, 'fonts.conf');
      fs.writeFileSync(conf, '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig><cachedir>' + tmp.dir + '</cachedir></fontconfig>');
      const script = path.join(PROJECT_ROOT, 'test/fixtures/scripts/render-legend.ts');
      const { stdout } = await promisify(execFile)(path.join(PROJECT_ROOT, 'node_modules/.bin/tsx'), [script], {
        cwd: PROJECT_ROOT,
        env: { ...process.env, FONTCONFIG_FILE: conf, FONTCONFIG_PATH: tmp.dir, HOME: tmp.dir, XDG_DATA_DIRS: tmp.dir },
      });
      const { white } = JSON.parse(stdout.trim().split('\n').pop()!);
      expect(white).toBeGreaterThan(50);
      // The same glyphs as with this machine's fonts: the shipped file, not a fallback, drew them.
      const here = await promisify(execFile)(path.join(PROJECT_ROOT, 'node_modules/.bin/tsx'), [script], { cwd: PROJECT_ROOT });
      // (within hinting differences: tofu boxes or a fallback face would differ far more).
      const withFonts = JSON.parse(here.stdout.trim().split('\n').pop()!).white as number;
      expect(Math.abs(white - withFonts)).toBeLessThan(withFonts * 0.1);
    } finally {
      tmp.cleanup();
    }
  });
});
