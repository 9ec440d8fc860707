import { Type } from 'typebox';

const ReviewSchema = Type.Object({
  decision: Type.Union([Type.Literal('confirmed'), Type.Literal('marked_missing'), Type.Null()]),
  note: Type.Union([Type.String(), Type.Null()]),
  resolved_by_id: Type.Union([Type.Integer(), Type.Null()]),
  resolved_at: Type.String({ format: 'date-time' }),
});

export const OperationSchema = Type.Object(
  {
    id: Type.Integer(),
    user_id: Type.Integer({ description: 'The engineer the kit was issued to / returned by' }),
    acted_by_id: Type.Integer({ description: 'Who performed it (the engineer or a storekeeper for them)' }),
    toolkit_id: Type.Integer(),
    operation_type: Type.Union([Type.Literal('checkout'), Type.Literal('checkin')]),
    timestamp: Type.String({ format: 'date-time' }),
    status: Type.Union([Type.Literal('success'), Type.Literal('discrepancy'), Type.Literal('manual_check')]),
    match_percentage: Type.Union([Type.Number(), Type.Null()]),
    result_json: Type.Record(Type.String(), Type.Unknown(), {
      description:
        'detections, detected_tools, counts, match_percentage, missing_tools, extra_tools, uncertain, lost_since_checkout (checkin), missing_at_checkout (checkout), model, thresholds, image URLs',
    }),
    image_url: Type.String(),
    annotated_image_url: Type.String(),
    review: Type.Union([ReviewSchema, Type.Null()]),
  },
  { $id: 'Operation' },
);

export const AuditEntrySchema = Type.Object(
  {
    id: Type.Integer(),
    reviewer_id: Type.Integer(),
    decision: Type.String(),
    note: Type.Union([Type.String(), Type.Null()]),
    before: Type.Record(Type.String(), Type.Unknown()),
    after: Type.Record(Type.String(), Type.Unknown()),
    created_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'ReviewAuditEntry' },
);

export const operationSchemas = [OperationSchema, AuditEntrySchema];

export const OperationTypeSchema = Type.Union([Type.Literal('checkout'), Type.Literal('checkin')]);
export const OperationStatusSchema = Type.Union([Type.Literal('success'), Type.Literal('discrepancy'), Type.Literal('manual_check')]);

export const OperationFieldsSchema = Type.Object({
  toolkit_id: Type.Integer({ minimum: 1 }),
  operation_type: OperationTypeSchema,
  engineer_id: Type.Optional(Type.Integer({ minimum: 1, description: 'When a storekeeper acts for an engineer' })),
  confidence: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1 })),
});

export const RecognizeBodySchema = Type.Object(
  {
    image_base64: Type.String({ minLength: 1, description: 'The photo, base64 (a data: URL prefix is accepted)' }),
    operation_type: OperationTypeSchema,
    toolkit_id: Type.Integer({ minimum: 1 }),
    engineer_id: Type.Optional(Type.Integer({ minimum: 1 })),
    confidence: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1 })),
  },
  { additionalProperties: false },
);

export const HistoryQuerySchema = Type.Object(
  {
    skip: Type.Integer({ minimum: 0, default: 0 }),
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
    user_id: Type.Optional(Type.Integer({ minimum: 1 })),
    toolkit_id: Type.Optional(Type.Integer({ minimum: 1 })),
    operation_type: Type.Optional(OperationTypeSchema),
    status: Type.Optional(OperationStatusSchema),
    from: Type.Optional(Type.String({ format: 'date-time' })),
    to: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
);

export const ResolveBodySchema = Type.Object(
  {
    decision: Type.Union([Type.Literal('confirmed'), Type.Literal('marked_missing')], {
      description: 'confirmed: the kit is as it should be (uncertain detections were the tools); marked_missing: the tools are missing',
    }),
    note: Type.Optional(Type.String({ maxLength: 2000 })),
    corrected_counts: Type.Optional(
      Type.Record(Type.String({ pattern: '^[a-z0-9_]+$' }), Type.Integer({ minimum: 0, maximum: 1000 }), {
        description: 'Tool counts as the storekeeper found them, by tool key; classes not named keep the detected count',
      }),
    ),
  },
  { additionalProperties: false },
);
