/**
 * Text for annotated photos, rasterised by sharp's text input (Pango) from the
 * font file shipped in the repo. SVG `<text>` is not used: librsvg only finds
 * fonts that fontconfig knows, and a server may have none. With `fontfile` the
 * file is registered with fontconfig by libvips itself, so Cyrillic labels render
 * on a machine with no system fonts at all.
 */
import fs from 'node:fs';
import sharp from 'sharp';

/** The family name inside assets/fonts/DejaVuSans.ttf; Pango selects the registered file by it. */
const FONT_FAMILY = 'DejaVu Sans';

export interface TextTile {
  /** RGBA pixels, `width × height × 4`. */
  data: Buffer;
  width: number;
  height: number;
}

export interface TextOptions {
  fontPath: string;
  /** Font size in pixels (the em size; glyph ink is somewhat smaller). */
  sizePx: number;
  /** `#rrggbb` */
  colour: string;
  /** Wrap at word boundaries to at most this many pixels wide. */
  wrapWidth?: number;
}

/** Pango markup is parsed by sharp's text input: labels are data, not markup. */
export function escapeMarkup(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

const checkedFonts = new Set<string>();

/**
 * A missing font file would not fail in libvips: Pango silently falls back to
 * whatever fontconfig offers, or to empty boxes. Fail loudly instead.
 */
export function assertFontFile(fontPath: string): void {
  if (checkedFonts.has(fontPath)) return;
  let ok = false;
  try {
    ok = fs.statSync(fontPath).isFile();
  } catch {
    ok = false;
  }
  if (!ok) throw new Error(`Annotation font not found: ${fontPath}`);
  checkedFonts.add(fontPath);
}

/** Render one (possibly multi-line) text as an RGBA tile cropped to its ink. */
export async function renderText(text: string, options: TextOptions): Promise<TextTile> {
  assertFontFile(options.fontPath);
  if (!/^#[0-9a-fA-F]{6}$/.test(options.colour)) throw new Error(`Invalid text colour: ${options.colour}`);
  const wrap = options.wrapWidth !== undefined && options.wrapWidth > 0 ? { width: Math.floor(options.wrapWidth), wrap: 'word-char' as const } : {};
  const { data, info } = await sharp({
    text: {
      // An empty string is an error in libvips; a space renders nothing visible.
      text: `<span foreground="${options.colour}">${escapeMarkup(text.length > 0 ? text : ' ')}</span>`,
      font: `${FONT_FAMILY} ${Math.max(1, Math.round(options.sizePx))}px`,
      fontfile: options.fontPath,
      rgba: true,
      dpi: 72,
      ...wrap,
    },
  })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}
