import { Type } from 'typebox';
import type { Tool } from '../../db/schema/index.js';
import { TOOL_CLASS_KEYS } from '../../domain/tool-classes.js';
import { DateTime } from './pagination.js';

export const ClassKey = Type.Enum([...TOOL_CLASS_KEYS], { description: 'A tool class key the detector knows' });
const Name = Type.String({ minLength: 1, maxLength: 200 });
// Null first: with type coercion on, a string branch tried first would turn null into "".
const SerialNumber = Type.Union([Type.Null(), Type.String({ minLength: 1, maxLength: 100 })]);
const Category = Type.Union([Type.Null(), Type.String({ minLength: 1, maxLength: 100 })]);

export const ToolSchema = Type.Object(
  {
    id: Type.Integer(),
    name: Type.String(),
    serial_number: Type.Union([Type.String(), Type.Null()]),
    category: Type.Union([Type.String(), Type.Null()]),
    class_key: Type.String(),
    is_active: Type.Boolean(),
    created_at: DateTime,
  },
  { $id: 'Tool' },
);

export const CreateToolBody = Type.Object(
  {
    name: Name,
    serial_number: Type.Optional(SerialNumber),
    category: Type.Optional(Category),
    class_key: ClassKey,
    is_active: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const UpdateToolBody = Type.Object(
  {
    name: Type.Optional(Name),
    serial_number: Type.Optional(SerialNumber),
    category: Type.Optional(Category),
    class_key: Type.Optional(ClassKey),
    is_active: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const ToolListQuery = Type.Object(
  {
    class_key: Type.Optional(ClassKey),
    category: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    active: Type.Optional(Type.Boolean()),
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Part of the name or serial number' })),
  },
  { additionalProperties: false },
);

export function toolDto(tool: Tool) {
  return {
    id: tool.id,
    name: tool.name,
    serial_number: tool.serialNumber,
    category: tool.category,
    class_key: tool.classKey,
    is_active: tool.isActive,
    created_at: tool.createdAt.toISOString(),
  };
}
