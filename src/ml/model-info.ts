/**
 * Derives a model's identity and tensor layout from its Ultralytics metadata_props and the
 * session's input/output signature, with names/imgsz from config for models without metadata.
 */
import type { ModelInfo } from './detector.js';
import { parsePythonLiteral, PythonLiteralError, type PythonKey, type PythonValue } from './python-literal.js';

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

/** Element types of model tensors the detector feeds and reads (float16: `half=True` exports). */
export type FloatType = 'float32' | 'float16';

/** What the detector needs to feed the model and read its outputs. */
export interface ModelLayout {
  inputName: string;
  /** float16 inputs get the letterboxed image converted to halves where the session runs. */
  inputType: FloatType;
  /** output0, see `head`. */
  predictionsName: string;
  /** output1 of segment models: [B, nm, mh, mw]. */
  prototypesName: string | null;
  numClasses: number;
  /**
   * 'raw': output0 is [B, 4 + nc + nm, N], per anchor cx, cy, w, h, class scores and mask
   * coefficients, filtered and suppressed here. 'end-to-end': output0 is [B, k, 6 + nm], rows of
   * x1, y1, x2, y2, score, class (+ mask coefficients) the model's own NMS left, zero-padded.
   */
  head: 'raw' | 'end-to-end';
}

export class ModelConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelConfigError';
  }
}

const DEFAULT_STRIDE = 32;
/** Ultralytics' exporter sets `conf = conf or 0.25` for nms=True and does not write it into the metadata. */
const ULTRALYTICS_EXPORT_CONF = 0.25;
const FLOAT_TYPES: readonly string[] = ['float32', 'float16'] satisfies FloatType[];

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
  if (!FLOAT_TYPES.includes(input.type)) {
    throw new ModelConfigError(`${path}: input '${input.name}' is ${input.type}; only float32 and float16 exports are supported`);
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

  for (const output of [predictions, ...(task === 'segment' ? [prototypes!] : [])]) {
    if (!FLOAT_TYPES.includes(output.type)) {
      throw new ModelConfigError(`${path}: output '${output.name}' is ${output.type}; only float32 and float16 outputs are supported`);
    }
  }

  const names = resolveNames(path, metadata.get('names'), fallbacks.names);
  const numClasses = Object.keys(names).length;
  const { head, builtInNms } = resolveHead(path, metadata, predictions, numClasses, task === 'segment' ? prototypes : null);

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
    ...(builtInNms ? { builtInNms } : {}),
  };
  const layout: ModelLayout = {
    inputName: input.name,
    inputType: input.type as FloatType,
    predictionsName: predictions.name,
    prototypesName: task === 'segment' ? prototypes!.name : null,
    numClasses,
    head,
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

/**
 * Which head made output0. The metadata says it for Ultralytics exports (`args` with 'nms': True,
 * `end2end` True for YOLOv10/YOLO26 end-to-end heads); without metadata an output whose rows are
 * 6 (+ nm) values wide and whose channels do not fit the classes is taken as end-to-end.
 */
function resolveHead(
  path: string,
  metadata: ReadonlyMap<string, string>,
  predictions: TensorSignature,
  numClasses: number,
  prototypes: TensorSignature | null,
): { head: ModelLayout['head']; builtInNms?: NonNullable<ModelInfo['builtInNms']> } {
  const { shape } = predictions;
  const numMasks = prototypes ? prototypes.shape[1] : 0;
  const rawChannels = typeof numMasks === 'number' ? 4 + numClasses + numMasks : null;
  const rowWidth = typeof numMasks === 'number' ? 6 + numMasks : null;
  const rowLayout = `x1, y1, x2, y2, score, class${numMasks ? ` and ${numMasks} mask coefficients` : ''}`;
  if (shape.length !== 3) {
    throw new ModelConfigError(
      `${path}: output '${predictions.name}' has shape [${shape.join(', ')}]; expected [B, 4 + classes, anchors] ` +
        `or, with NMS in the model, [B, detections, 6]`,
    );
  }
  const [, channels, width] = shape;
  const maxDetections = typeof channels === 'number' ? channels : null;

  const args = exportArgs(metadata.get('args'));
  const kind = args?.get('nms') === true ? 'nms-export' : endToEndFlag(path, metadata.get('end2end')) ? 'end2end' : null;
  if (kind) {
    if (typeof width === 'number' && rowWidth !== null && width !== rowWidth) {
      throw new ModelConfigError(
        `${path}: output '${predictions.name}' has shape [${shape.join(', ')}], but a model with NMS built in ` +
          `gives [B, detections, ${rowWidth}] (${rowLayout})`,
      );
    }
    const conf = args?.get('conf');
    const confidenceFloor = kind === 'nms-export' ? (typeof conf === 'number' ? conf : ULTRALYTICS_EXPORT_CONF) : null;
    return { head: 'end-to-end', builtInNms: { kind, maxDetections, confidenceFloor } };
  }
  if (typeof channels !== 'number' || rawChannels === null || channels === rawChannels) return { head: 'raw' };
  if (width === rowWidth) {
    return { head: 'end-to-end', builtInNms: { kind: 'output-shape', maxDetections, confidenceFloor: null } };
  }
  throw new ModelConfigError(
    `${path}: output '${predictions.name}' has ${channels} channels, but ${numClasses} classes` +
      (numMasks ? ` and ${numMasks} mask coefficients` : '') +
      ` need ${rawChannels} (wrong class names?); a model with NMS built in would give [B, detections, ${rowWidth}]`,
  );
}

/** The export arguments Ultralytics records (`args`: a dict literal); anything unreadable counts as absent. */
export function exportArgs(text: string | undefined): Map<PythonKey, PythonValue> | null {
  if (text === undefined) return null;
  try {
    const value = parsePythonLiteral(text);
    return value instanceof Map ? value : null;
  } catch {
    return null;
  }
}

function endToEndFlag(path: string, text: string | undefined): boolean {
  return optionalBoolean(path, 'end2end', 'end2end', text).end2end === true;
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
