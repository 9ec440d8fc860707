/**
 * Letterbox geometry exactly as Ultralytics' LetterBox (auto=False, center=True, scaleup=True),
 * including Python's round-half-to-even.
 */

export interface ImageSize {
  width: number;
  height: number;
}

export interface Letterbox {
  /** Scale applied to the original image (r = min(H/h, W/w)). */
  ratio: number;
  /** Size of the resized image inside the padding. */
  resizedWidth: number;
  resizedHeight: number;
  padLeft: number;
  padRight: number;
  padTop: number;
  padBottom: number;
}

/** Python 3's round(): ties go to the even neighbour. */
export function pythonRound(value: number): number {
  const floor = Math.floor(value);
  const diff = value - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** imgsz is [height, width] of the model input. */
export function computeLetterbox(original: ImageSize, imgsz: readonly [number, number]): Letterbox {
  const [inputHeight, inputWidth] = imgsz;
  const ratio = Math.min(inputHeight / original.height, inputWidth / original.width);
  const resizedWidth = Math.max(1, pythonRound(original.width * ratio));
  const resizedHeight = Math.max(1, pythonRound(original.height * ratio));
  const dw = (inputWidth - resizedWidth) / 2;
  const dh = (inputHeight - resizedHeight) / 2;
  return {
    ratio,
    resizedWidth,
    resizedHeight,
    padLeft: pythonRound(dw - 0.1),
    padRight: pythonRound(dw + 0.1),
    padTop: pythonRound(dh - 0.1),
    padBottom: pythonRound(dh + 0.1),
  };
}
