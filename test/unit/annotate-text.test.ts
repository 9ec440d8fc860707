import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/config/index.js';
import { assertFontFile, escapeMarkup, renderText, type TextTile } from '../../src/media/annotate-text.js';
import { FONT_PATH } from '../../src/media/fonts.js';
import { tempDir } from '../helpers/config.js';

const inkPixels = (tile: TextTile) => {
  let n = 0;
  for (let i = 3; i < tile.data.length; i += 4) if (tile.data[i]! > 128) n++;
  return n;
};

describe('label text from the shipped font', () => {
  it('renders Cyrillic, «¾» and markup characters as ink in the requested colour', async () => {
    const tile = await renderText('Ключ рожковый/накидной ¾ <b>&</b> 0.87', { fontPath: FONT_PATH, sizePx: 24, colour: '#ff0000' });
    expect(tile.data.length).toBe(tile.width * tile.height * 4);
    expect(tile.width).toBeGreaterThan(300);
    expect(tile.height).toBeGreaterThanOrEqual(16);
    expect(inkPixels(tile)).toBeGreaterThan(500);
    // Opaque pixels are red: the colour came through the escaped markup.
    for (let i = 0; i < tile.data.length; i += 4) {
      if (tile.data[i + 3] === 255) expect([tile.data[i], tile.data[i + 1], tile.data[i + 2]]).toEqual([255, 0, 0]);
    }
  });

  it('scales with the requested size and wraps at the given width', async () => {
    const small = await renderText('Пассатижи 0.87', { fontPath: FONT_PATH, sizePx: 14, colour: '#ffffff' });
    const large = await renderText('Пассатижи 0.87', { fontPath: FONT_PATH, sizePx: 56, colour: '#ffffff' });
    expect(large.width / small.width).toBeGreaterThan(3.5);
    const wrapped = await renderText('Отсутствует: Отвертка на смещенный крест ×1', { fontPath: FONT_PATH, sizePx: 20, colour: '#ffffff', wrapWidth: 150 });
    expect(wrapped.width).toBeLessThanOrEqual(150);
    expect(wrapped.height).toBeGreaterThan(40);
  });

  it('escapes Pango markup', () => {
    expect(escapeMarkup(`<b>Ключ & "Co" 'x'</b>`)).toBe('&lt;b&gt;Ключ &amp; &quot;Co&quot; &apos;x&apos;&lt;/b&gt;');
  });

  it('fails loudly when the font file is missing (libvips would silently fall back)', async () => {
    expect(() => assertFontFile('/nonexistent/font.ttf')).toThrow(/font not found/);
    await expect(renderText('x', { fontPath: '/nonexistent/font.ttf', sizePx: 12, colour: '#ffffff' })).rejects.toThrow(/font not found/);
    await expect(renderText('x', { fontPath: FONT_PATH, sizePx: 12, colour: 'red"/><x' })).rejects.toThrow(/colour/);
  });

  describe('on a machine with no system fonts (empty fontconfig, in a child process)', () => {
    const tmp = tempDir();
    afterAll(() => tmp.cleanup());

    /** Renders «Пассатижи 0.87» at 24 px in a child; `fontPath` null means sharp without `fontfile`. */
    async function renderInChild(env: NodeJS.ProcessEnv, fontPath: string | null): Promise<{ w: number; h: number; ink: number }> {
      const script = `
        import sharp from 'sharp';
        import { renderText } from './src/media/annotate-text.ts';
        const fontPath = process.argv[1];
        let tile;
        if (fontPath !== 'none') tile = await renderText('Пассатижи 0.87', { fontPath, sizePx: 24, colour: '#ffffff' });
        else {
          const { data, info } = await sharp({ text: { text: 'Пассатижи 0.87', font: 'DejaVu Sans 24px', rgba: true, dpi: 72 } }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
          tile = { data, width: info.width, height: info.height };
        }
        let ink = 0;
        for (let i = 3; i < tile.data.length; i += 4) if (tile.data[i] > 128) ink++;
        console.log(JSON.stringify({ w: tile.width, h: tile.height, ink }));`;
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, fontPath ?? 'none'], {
        cwd: PROJECT_ROOT,
        env,
      });
      return JSON.parse(stdout.trim().split('\n').pop()!);
    }

    it('draws the same glyphs from the shipped file; without it the same process gets only empty boxes', async () => {
      const conf = path.join(tmp.dir, 'fonts.conf');
      fs.writeFileSync(conf, `<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig><cachedir>${tmp.dir}</cachedir></fontconfig>`);
      const noFonts = { ...process.env, FONTCONFIG_FILE: conf, FONTCONFIG_PATH: tmp.dir, HOME: tmp.dir, XDG_DATA_DIRS: tmp.dir };

      const reference = await renderText('Пассатижи 0.87', { fontPath: FONT_PATH, sizePx: 24, colour: '#ffffff' });
      const [shipped, control] = await Promise.all([renderInChild(noFonts, FONT_PATH), renderInChild(noFonts, null)]);
      // The environment really has no fonts: without `fontfile` Pango draws tofu, a different shape altogether.
      expect(Math.abs(control.w - reference.width) / reference.width).toBeGreaterThan(0.15);
      // With the shipped file the text is the real one (hinting settings may differ by a pixel or so).
      expect(Math.abs(shipped.w - reference.width)).toBeLessThanOrEqual(Math.ceil(reference.width * 0.03));
      expect(Math.abs(shipped.h - reference.height)).toBeLessThanOrEqual(3);
      expect(Math.abs(shipped.ink - inkPixels(reference)) / inkPixels(reference)).toBeLessThan(0.15);
    });
  });
});
