/**
 * Colours and gradients shared by all drawings. Gradients use objectBoundingBox
 * units, so they follow each part wherever it is placed.
 */
import type { Random } from './random.js';

export const GRADIENT_DEFS = `
<linearGradient id="steel" x1="0" y1="0" x2="0" y2="1">
  <stop offset="0" stop-color="#f2f4f6"/><stop offset="0.35" stop-color="#b9bec4"/>
  <stop offset="0.6" stop-color="#7f868e"/><stop offset="1" stop-color="#c8cdd2"/>
</linearGradient>
<linearGradient id="steelDark" x1="0" y1="0" x2="0" y2="1">
  <stop offset="0" stop-color="#8d939a"/><stop offset="0.5" stop-color="#4a4f55"/>
  <stop offset="1" stop-color="#6b7178"/>
</linearGradient>
<linearGradient id="blackOxide" x1="0" y1="0" x2="0" y2="1">
  <stop offset="0" stop-color="#5b5f66"/><stop offset="0.5" stop-color="#26292d"/>
  <stop offset="1" stop-color="#3d4046"/>
</linearGradient>
<linearGradient id="wood" x1="0" y1="0" x2="0" y2="1">
  <stop offset="0" stop-color="#d9a45f"/><stop offset="0.5" stop-color="#a8652b"/>
  <stop offset="1" stop-color="#c07f3f"/>
</linearGradient>
<linearGradient id="sheen" x1="0" y1="0" x2="0" y2="1">
  <stop offset="0" stop-color="#ffffff" stop-opacity="0.55"/><stop offset="0.4" stop-color="#ffffff" stop-opacity="0"/>
  <stop offset="1" stop-color="#000000" stop-opacity="0.25"/>
</linearGradient>`;

/** Bright steel in most tools; darker finishes for variety. */
export function pickMetal(rng: Random): string {
  return rng.weighted([
    ['url(#steel)', 6],
    ['url(#steelDark)', 2],
    ['url(#blackOxide)', 1],
  ] as const);
}

export const METAL_EDGE = '#3a3f45';

/** Handle plastics: the colours tool makers actually use. */
const HANDLE_COLOURS = ['#c62828', '#d84315', '#f9a825', '#fdd835', '#1565c0', '#0d47a1', '#2e7d32', '#212121', '#424242', '#6a1b9a', '#00838f', '#ef6c00'];

export function pickHandleColour(rng: Random): string {
  return rng.pick(HANDLE_COLOURS);
}

/** Darkens (factor < 1) or lightens (factor > 1) a #rrggbb colour. */
export function shade(hex: string, factor: number): string {
  const n = parseInt(hex.slice(1), 16);
  const channel = (shift: number): number => {
    const v = (n >> shift) & 255;
    const out = factor < 1 ? v * factor : v + (255 - v) * (factor - 1);
    return Math.max(0, Math.min(255, Math.round(out)));
  };
  return `#${[16, 8, 0].map((s) => channel(s).toString(16).padStart(2, '0')).join('')}`;
}

export function hsl(h: number, s: number, l: number): string {
  return `hsl(${Math.round(h)}, ${Math.round(s)}%, ${Math.round(l)}%)`;
}
