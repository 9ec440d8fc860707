/**
 * Derives a model's identity and tensor layout from its Ultralytics metadata_props and the
 * session's input/output signature, with names/imgsz from config for models without metadata.
 */
import type { ModelInfo } from './detector.js';
import { parsePythonLiteral, PythonLiteralError, type PythonValue } from './python-literal.js';

export type Dim = number | string;

export interface TensorSignature {
  name: string;
  type: string;
  shape: readonly Dim[];
}

export interface ModelSignature {
  inputs: readonly TensorSignature[];
  outputs: readonly TensorSignature[];
}

export interface ModelFallbacks {
  /** Class names for models whose metadata has none: index → name, or a list. */
  names?: Record<number, string> | readonly string[];
  /** [height, width], or one number for a square input. */
  imgsz?: number | readonly [number, number];
}

/** What the detector needs to feed the model and read its outputs. */
export interface ModelLayout {
  inputName: string;
  /** output0: [B, 4 + nc (+ nm), N]. */
  predictionsName: string;
  /** output1 of segment models: [B, nm, mh, mw]. */
  prototypesName: string | null;
  numClasses: number;
}

export class ModelConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelConfigError';
  }
}

const DEFAULT_STRIDE = 32;

export function resolveModelInfo(params: {
  path: string;
  sha256: string;
  metadata: ReadonlyMap<string, string>;
  signature: ModelSignature;
  fallbacks?: ModelFallbacks;
}): { info: ModelInfo; layout: ModelLayout } {
  const { path, sha256, metadata, signature, fallbacks = {} } = params;
  const input = signature.inputs[0];
  if (!input || signature.inputs.length !== 1) {
    throw new ModelConfigError(`${path}: expected one image input, found ${signature.inputs.length}`);
  }
  if (input.type !== 'float32') {
    throw new ModelConfigError(`${path}: input '${input.name}' is ${input.type}; only float32 exports are supported`);
  }
  if (input.shape.length !== 4 || input.shape[1] !== 3) {
    throw new ModelConfigError(`${path}: input shape [${input.shape.join(', ')}] is not [B, 3, H, W]`);
  }

  const predictions = signature.outputs.find((o) => o.name === 'output0') ?? signature.outputs[0];
  if (!predictions) throw new ModelConfigError(`${path}: the model has no outputs`);
  const prototypes = signature.outputs.find((o) => o !== predictions && o.shape.length === 4) ?? null;
  const task = resolveTask(path, metadata.get('task'), prototypes !== null);
  if (task === 'segment' && !prototypes) {
    throw new ModelConfigError(`${path}: a segment model needs a prototype output (output1 [B, 32, mh, mw])`);
  }

  const names = resolveNames(path, metadata.get('names'), fallbacks.names);
  const numClasses = Object.keys(names).length;
  checkPredictionsShape(path, predictions, numClasses, task === 'segment' ? prototypes : null);

  const info: ModelInfo = {
    sha256,
    path,
    task,
    names,
    imgsz: resolveImgsz(path, metadata.get('imgsz'), fallbacks.imgsz, input.shape),
    stride: optionalInteger(path, 'stride', metadata.get('stride')) ?? DEFAULT_STRIDE,
    batch: typeof input.shape[0] === 'number' && input.shape[0] > 0 ? input.shape[0] : null,
    ...optionalText('description', metadata.get('description')),
    ...optionalText('version', metadata.get('version')),
    ...optionalText('date', metadata.get('date')),
    ...optionalBoolean(path, 'agnosticNms', 'agnostic_nms', metadata.get('agnostic_nms')),
  };
  const layout: ModelLayout = {
    inputName: input.name,
    predictionsName: predictions.name,
    prototypesName: task === 'segment' ? prototypes!.name : null,
    numClasses,
  };
  return { info, layout };
}

function resolveTask(path: string, declared: string | undefined, hasPrototypes: boolean): ModelInfo['task'] {
  if (declared === undefined) return hasPrototypes ? 'segment' : 'detect';
  if (declared === 'detect' || declared === 'segment') return declared;
  throw new ModelConfigError(`${path}: task '${declared}' is not supported (detect or segment)`);
}

function parseMetadataLiteral(path: string, key: string, text: string): PythonValue {
  try {
    return parsePythonLiteral(text);
  } catch (error) {
    const reason = error instanceof PythonLiteralError ? error.message : String(error);
    throw new ModelConfigError(`${path}: metadata '${key}' is not a Python literal (${reason}): ${text.slice(0, 200)}`);
  }
}

function resolveNames(
  path: string,
  declared: string | undefined,
  fallback: ModelFallbacks['names'],
): Record<number, string> {
  let source: unknown = fallback;
  if (declared !== undefined) source = parseMetadataLiteral(path, 'names', declared);
  if (source === undefined) {
    throw new ModelConfigError(
      `${path}: the model has no class names in its metadata; configure the names for this model`,
    );
  }
  const entries: Array<[unknown, unknown]> =
    source instanceof Map
      ? [...source]
      : Array.isArray(source)
        ? source.map((name: unknown, index) => [index, name])
        : Object.entries(source as object);
  const names: Record<number, string> = {};
  for (const [key, value] of entries) {
    const index = typeof key === 'string' && /^\d+$/.test(key) ? Number(key) : key;
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || typeof value !== 'string') {
      throw new ModelConfigError(`${path}: class names must map integer indices to strings`);
    }
    names[index] = value;
  }
  const count = Object.keys(names).length;
  if (count === 0) throw new ModelConfigError(`${path}: the model declares no classes`);
  for (let i = 0; i < count; i++) {
    if (names[i] === undefined) throw new ModelConfigError(`${path}: class indices must be 0..${count - 1}`);
  }
  return names;
}

function resolveImgsz(
  path: string,
  declared: string | undefined,
  fallback: ModelFallbacks['imgsz'],
  inputShape: readonly Dim[],
): [number, number] {
  const [, , inputHeight, inputWidth] = inputShape;
  let source: unknown = fallback;
  if (declared !== undefined) source = parseMetadataLiteral(path, 'imgsz', declared);
  if (source === undefined && typeof inputHeight === 'number' && typeof inputWidth === 'number') {
    source = [inputHeight, inputWidth];
  }
  if (source === undefined) {
    throw new ModelConfigError(`${path}: the model has no imgsz in its metadata and a dynamic input; configure imgsz`);
  }
  const pair = typeof source === 'number' ? [source, source] : source;
  if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((v) => Number.isInteger(v) && v > 0)) {
    throw new ModelConfigError(`${path}: imgsz must be [height, width] of positive integers`);
  }
  const imgsz: [number, number] = [pair[0], pair[1]];
  if (
    (typeof inputHeight === 'number' && inputHeight !== imgsz[0]) ||
    (typeof inputWidth === 'number' && inputWidth !== imgsz[1])
  ) {
    throw new ModelConfigError(
      `${path}: imgsz [${imgsz.join(', ')}] does not match the input [${inputHeight}, ${inputWidth}]`,
    );
  }
  return imgsz;
}

function checkPredictionsShape(
  path: string,
  predictions: TensorSignature,
  numClasses: number,
  prototypes: TensorSignature | null,
): void {
  const { shape } = predictions;
  const unsupportedHeads = 'exports with nms=True or end-to-end (NMS-free) heads are not supported';
  if (shape.length !== 3) {
    throw new ModelConfigError(
      `${path}: output '${predictions.name}' has shape [${shape.join(', ')}]; expected [B, 4 + classes, anchors] ` +
        `(${unsupportedHeads})`,
    );
  }
  const numMasks = prototypes ? prototypes.shape[1] : 0;
  const channels = shape[1];
  if (typeof channels === 'number' && typeof numMasks === 'number' && channels !== 4 + numClasses + numMasks) {
    throw new ModelConfigError(
      `${path}: output '${predictions.name}' has ${channels} channels, but ${numClasses} classes` +
        (numMasks ? ` and ${numMasks} mask coefficients` : '') +
        ` need ${4 + numClasses + numMasks} (wrong class names? ${unsupportedHeads})`,
    );
  }
}

function optionalInteger(path: string, key: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new ModelConfigError(`${path}: metadata '${key}' is not an integer`);
  return value;
}

function optionalBoolean<K extends string>(path: string, field: K, key: string, text: string | undefined): Partial<Record<K, boolean>> {
  if (text === undefined) return {};
  const value = parseMetadataLiteral(path, key, text);
  if (typeof value !== 'boolean') throw new ModelConfigError(`${path}: metadata '${key}' is not True or False`);
  return { [field]: value } as Record<K, boolean>;
}

function optionalText<K extends string>(key: K, text: string | undefined): Partial<Record<K, string>> {
  return text === undefined ? {} : ({ [key]: text } as Record<K, string>);
}
