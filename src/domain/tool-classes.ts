/**
 * The 11 tool classes of the reference kit (DESIGN.md). The key is the stable
 * identifier used everywhere (API, database, model aliases); the Russian name is
 * what technicians read. Order is the class index of the default model.
 */
export const TOOL_CLASSES = [
  { key: 'screwdriver_flat', name: 'Отвертка «-»', category: 'Отвертки' },
  { key: 'screwdriver_phillips', name: 'Отвертка «+»', category: 'Отвертки' },
  { key: 'screwdriver_offset_phillips', name: 'Отвертка на смещенный крест', category: 'Отвертки' },
  { key: 'brace', name: 'Коловорот', category: 'Сверлильный инструмент' },
  { key: 'safety_wire_pliers', name: 'Пассатижи контровочные', category: 'Шарнирно-губцевый инструмент' },
  { key: 'pliers', name: 'Пассатижи', category: 'Шарнирно-губцевый инструмент' },
  { key: 'shernitsa', name: 'Шэрница', category: 'Шарнирно-губцевый инструмент' },
  { key: 'adjustable_wrench', name: 'Разводной ключ', category: 'Ключи' },
  { key: 'oil_can_opener', name: 'Открывашка для банок с маслом', category: 'Вспомогательный инструмент' },
  { key: 'combination_wrench_3_4', name: 'Ключ рожковый/накидной ¾', category: 'Ключи' },
  { key: 'side_cutters', name: 'Бокорезы', category: 'Шарнирно-губцевый инструмент' },
] as const;

export type ToolClassKey = (typeof TOOL_CLASSES)[number]['key'];

export const TOOL_CLASS_KEYS: readonly ToolClassKey[] = TOOL_CLASSES.map((c) => c.key);

export function isToolClassKey(value: string): value is ToolClassKey {
  return (TOOL_CLASS_KEYS as readonly string[]).includes(value);
}
