/**
 * Outline of a binary mask as a polygon, like cv2.findContours(RETR_EXTERNAL, CHAIN_APPROX_SIMPLE)
 * followed by Ultralytics' "largest segment" choice: the outer boundary of the largest
 * 8-connected component, as pixel coordinates, with straight runs reduced to their end points.
 */

/** Neighbour offsets, clockwise on screen (y down): E, SE, S, SW, W, NW, N, NE. */
const DX = [1, 1, 0, -1, -1, -1, 0, 1] as const;
const DY = [0, 1, 1, 1, 0, -1, -1, -1] as const;
const WEST = 4;

export type Point = [number, number];

/** `mask` is row-major, non-zero = inside. Returns [] for an empty mask. */
export function largestContour(mask: Uint8Array, width: number, height: number): Point[] {
  const labels = new Int32Array(width * height);
  const start = largestComponentStart(mask, width, height, labels);
  if (start < 0) return [];
  const label = labels[start]!;
  const inside = (x: number, y: number): boolean =>
    x >= 0 && y >= 0 && x < width && y < height && labels[y * width + x] === label;
  return compressStraightRuns(traceBoundary(start % width, Math.floor(start / width), inside));
}

/** Labels 8-connected components; returns the raster-first pixel of the largest one, or -1. */
function largestComponentStart(mask: Uint8Array, width: number, height: number, labels: Int32Array): number {
  let bestStart = -1;
  let bestArea = 0;
  let nextLabel = 1;
  const stack: number[] = [];
  for (let index = 0; index < mask.length; index++) {
    if (!mask[index] || labels[index]) continue;
    const label = nextLabel++;
    let area = 0;
    labels[index] = label;
    stack.push(index);
    while (stack.length > 0) {
      const current = stack.pop()!;
      area++;
      const cx = current % width;
      const cy = (current - cx) / width;
      for (let d = 0; d < 8; d++) {
        const nx = cx + DX[d]!;
        const ny = cy + DY[d]!;
        if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
        const neighbour = ny * width + nx;
        if (mask[neighbour] && !labels[neighbour]) {
          labels[neighbour] = label;
          stack.push(neighbour);
        }
      }
    }
    if (area > bestArea) {
      bestArea = area;
      bestStart = index;
    }
  }
  return bestStart;
}

/**
 * Moore-neighbour tracing from the component's raster-first pixel (its west neighbour is
 * outside). The trace is periodic, so it stops when it would repeat its first move.
 */
function traceBoundary(startX: number, startY: number, inside: (x: number, y: number) => boolean): Point[] {
  const points: Point[] = [[startX, startY]];
  let x = startX;
  let y = startY;
  let backtrack = WEST;
  let firstMove = -1;
  for (;;) {
    const move = nextMove(x, y, backtrack, inside);
    if (move < 0) return points; // an isolated pixel
    if (x === startX && y === startY) {
      if (firstMove === move) return points.slice(0, -1);
      if (firstMove < 0) firstMove = move;
    }
    // The last background neighbour checked becomes the backtrack, seen from the new pixel.
    const previous = (move + 7) % 8;
    const nx = x + DX[move]!;
    const ny = y + DY[move]!;
    backtrack = directionOf(x + DX[previous]! - nx, y + DY[previous]! - ny);
    x = nx;
    y = ny;
    points.push([x, y]);
  }
}

function nextMove(x: number, y: number, backtrack: number, inside: (x: number, y: number) => boolean): number {
  for (let step = 1; step <= 8; step++) {
    const d = (backtrack + step) % 8;
    if (inside(x + DX[d]!, y + DY[d]!)) return d;
  }
  return -1;
}

function directionOf(dx: number, dy: number): number {
  for (let d = 0; d < 8; d++) if (DX[d] === dx && DY[d] === dy) return d;
  throw new Error(`(${dx}, ${dy}) is not a neighbour offset`);
}

/** Keeps only the points where the direction of travel changes (CHAIN_APPROX_SIMPLE). */
function compressStraightRuns(points: Point[]): Point[] {
  if (points.length < 3) return points;
  const kept: Point[] = [];
  const n = points.length;
  for (let i = 0; i < n; i++) {
    const [px, py] = points[(i + n - 1) % n]!;
    const [cx, cy] = points[i]!;
    const [nx, ny] = points[(i + 1) % n]!;
    if (cx - px !== nx - cx || cy - py !== ny - cy) kept.push([cx, cy]);
  }
  return kept;
}
