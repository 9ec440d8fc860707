import { Type } from 'typebox';

export const BoxSchema = Type.Object(
  { x1: Type.Number(), y1: Type.Number(), x2: Type.Number(), y2: Type.Number() },
  { description: 'Pixels of the original (EXIF-upright) image' },
);

export const DetectionSchema = Type.Object(
  {
    class_name: Type.String({ description: "The model's class name" }),
    tool_key: Type.Union([Type.String(), Type.Null()], { description: 'Tool class it maps to (aliases), null if none' }),
    tool_name: Type.String({ description: 'Russian tool name' }),
    confidence: Type.Number(),
    uncertain: Type.Boolean({ description: 'Between the review floor and the class threshold' }),
    box: BoxSchema,
  },
  { $id: 'Detection' },
);

const ToolCount = Type.Object({
  class_key: Type.String(),
  tool_name: Type.String(),
  expected: Type.Integer(),
  found: Type.Integer(),
  count: Type.Integer(),
});

export const ComparisonSchema = Type.Object(
  {
    status: Type.Union([Type.Literal('success'), Type.Literal('discrepancy'), Type.Literal('manual_check')]),
    match_percentage: Type.Number(),
    expected_total: Type.Integer(),
    found_total: Type.Integer(),
    counts: Type.Record(Type.String(), Type.Integer()),
    missing: Type.Array(ToolCount),
    extra: Type.Array(ToolCount),
    uncertain: Type.Array(
      Type.Object({ class_key: Type.String(), tool_name: Type.String(), count: Type.Integer(), max_confidence: Type.Number() }),
    ),
  },
  { $id: 'KitComparison' },
);

export const ModelIdentitySchema = Type.Object(
  {
    sha256: Type.String(),
    file: Type.String(),
    task: Type.String(),
    imgsz: Type.Array(Type.Integer()),
    version: Type.Optional(Type.String()),
  },
  { $id: 'ModelIdentity' },
);

export const ThresholdsSchema = Type.Object(
  {
    confidence: Type.Number(),
    review_floor: Type.Number(),
    class_thresholds: Type.Record(Type.String(), Type.Number()),
    match_threshold: Type.Number(),
    iou: Type.Number(),
    agnostic_nms: Type.Boolean({ description: "Overlapping boxes were suppressed across classes too (NMS_AGNOSTIC, else the model's agnostic_nms metadata)" }),
  },
  { $id: 'AppliedThresholds' },
);

export const TimingsSchema = Type.Object({
  decode: Type.Number(),
  inference: Type.Number(),
  postprocess: Type.Number(),
  annotate: Type.Number(),
  total: Type.Number(),
  cache: Type.Optional(Type.Union([Type.Literal('hit'), Type.Literal('miss')])),
});

export const PredictionSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    toolkit: Type.Object({ id: Type.Integer(), name: Type.String() }),
    detections: Type.Array(Type.Ref('Detection')),
    counts: Type.Record(Type.String(), Type.Integer()),
    comparison: Type.Ref('KitComparison'),
    unmapped: Type.Array(Type.String()),
    image_url: Type.String({ description: 'Annotated image; GET it with the same bearer token' }),
    model: Type.Ref('ModelIdentity'),
    thresholds: Type.Ref('AppliedThresholds'),
    image: Type.Object({ width: Type.Integer(), height: Type.Integer() }),
    timings_ms: TimingsSchema,
  },
  { $id: 'Prediction' },
);

/** seed 000's `ToolInfo`: a tool of the register. */
export const ToolInfoSchema = Type.Object(
  {
    id: Type.Integer(),
    name: Type.String(),
    serial_number: Type.String({ description: "The register's serial number; '' when it has none" }),
    category: Type.String({ description: "The register's category; '' when it has none" }),
  },
  { $id: 'ToolInfo', description: "A tool of the register, as seed 000's backend showed it" },
);

const FOUND_TOOLS = 'The kit\'s tools whose class was detected (counted detections, not uncertain ones), each once';
const HAND_CHECK = 'true when the comparison status is not `success`';
const ML_PREDICTIONS =
  "The tool id of each counted detection, in detection order: the kit's tool of its class, else the register's (lowest id); " +
  'detections mapping to no tool of the register are left out';

/** The fields of seed 000's `PredictResponse`, as /predict/ adds them to a Prediction. */
const seedPredictProperties = {
  found_tools: Type.Array(Type.Ref('ToolInfo'), { description: FOUND_TOOLS }),
  hand_check: Type.Boolean({ description: HAND_CHECK }),
  processed_image_url: Type.String({ description: 'The annotated image: the same as `image_url`' }),
  ml_predictions: Type.Array(Type.Integer(), { description: ML_PREDICTIONS }),
  inference_time_ms: Type.Number({ description: "The model's inference time (`timings_ms.inference`; 0 when the detections came from the cache)" }),
};

/** /predict/: a Prediction and seed 000's `PredictResponse` fields. */
export const PredictResponseSchema = Type.Object(
  { ...PredictionSchema.properties, ...seedPredictProperties },
  { $id: 'PredictResponse', description: "A Prediction, with the fields of seed 000's `PredictResponse` (found_tools … inference_time_ms)" },
);

/** seed 000's `BatchImageResult` fields of a /predict/batch or /predict/zip item (besides `filename`); null when the image failed. */
export const seedBatchItemProperties = {
  success: Type.Boolean({ description: 'The image has a result (`prediction`)' }),
  found_tools: Type.Array(Type.Ref('ToolInfo'), { description: `${FOUND_TOOLS}; [] when the image failed` }),
  hand_check: Type.Boolean({ description: `${HAND_CHECK}; true when the image failed` }),
  processed_image_url: Type.Union([Type.String(), Type.Null()], { description: 'The annotated image; null when the image failed' }),
  ml_predictions: Type.Union([Type.Array(Type.Integer()), Type.Null()], { description: `${ML_PREDICTIONS}; null when the image failed` }),
  inference_time_ms: Type.Union([Type.Number(), Type.Null()], { description: "The model's inference time; null when the image failed" }),
  error_message: Type.Union([Type.String(), Type.Null()], { description: "The problem's detail (`error.detail`); null on success" }),
};

export const recognitionSchemas = [DetectionSchema, ComparisonSchema, ModelIdentitySchema, ThresholdsSchema, PredictionSchema, ToolInfoSchema, PredictResponseSchema];

export const PredictFieldsSchema = Type.Object({
  toolkit_id: Type.Integer({ minimum: 1, description: 'Kit to compare with' }),
  confidence: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1, description: 'Detection confidence (default 0.5)' })),
});
