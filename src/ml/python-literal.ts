/**
 * Parser for the Python literals Ultralytics writes into ONNX metadata with str(value):
 * dicts, lists, tuples, str (either quote, with escapes), int, float, True/False/None.
 * It never evaluates anything; unknown syntax is an error with its position.
 */

export type PythonKey = string | number | boolean | null;
export type PythonValue = PythonKey | PythonValue[] | Map<PythonKey, PythonValue>;

export class PythonLiteralError extends Error {
  constructor(message: string, readonly position: number) {
    super(`${message} at position ${position}`);
    this.name = 'PythonLiteralError';
  }
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  n: '\n',
  r: '\r',
  t: '\t',
  a: '\x07',
  b: '\b',
  f: '\f',
  v: '\v',
  '0': '\0',
};

const NUMBER_PATTERN = /^[+-]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?/;
const KEYWORDS: Record<string, PythonKey> = { True: true, False: false, None: null };

export function parsePythonLiteral(text: string): PythonValue {
  const parser = new Parser(text);
  const value = parser.parseValue();
  parser.skipWhitespace();
  if (!parser.atEnd()) parser.fail('Unexpected trailing text');
  return value;
}

class Parser {
  private pos = 0;

  constructor(private readonly text: string) {}

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  fail(message: string): never {
    throw new PythonLiteralError(message, this.pos);
  }

  skipWhitespace(): void {
    while (!this.atEnd() && /\s/.test(this.text[this.pos]!)) this.pos++;
  }

  parseValue(): PythonValue {
    this.skipWhitespace();
    const ch = this.text[this.pos];
    if (ch === undefined) this.fail('Unexpected end of input');
    if (ch === '{') return this.parseDict();
    if (ch === '[') return this.parseSequence(']');
    if (ch === '(') return this.parseParenthesized();
    if (ch === "'" || ch === '"') return this.parseString();
    if (/[A-Za-z_]/.test(ch)) return this.parseKeyword();
    return this.parseNumber();
  }

  private expect(ch: string): void {
    this.skipWhitespace();
    if (this.text[this.pos] !== ch) this.fail(`Expected '${ch}'`);
    this.pos++;
  }

  /** Consumes `close` if it is next (after whitespace). */
  private tryClose(close: string): boolean {
    this.skipWhitespace();
    if (this.text[this.pos] !== close) return false;
    this.pos++;
    return true;
  }

  /** After an item: either a comma (then maybe the closing bracket) or the closing bracket. */
  private afterItem(close: string): boolean {
    if (this.tryClose(close)) return true;
    this.expect(',');
    return this.tryClose(close);
  }

  private parseDict(): Map<PythonKey, PythonValue> {
    this.pos++;
    const dict = new Map<PythonKey, PythonValue>();
    if (this.tryClose('}')) return dict;
    for (;;) {
      const keyStart = this.pos;
      const key = this.parseValue();
      if (typeof key === 'object' && key !== null) {
        this.pos = keyStart;
        this.skipWhitespace();
        this.fail('Unhashable dict key');
      }
      this.expect(':');
      dict.set(key, this.parseValue());
      if (this.afterItem('}')) return dict;
    }
  }

  /** `(x)` is just x; `()`, `(x,)` and `(x, y)` are tuples (arrays). */
  private parseParenthesized(): PythonValue {
    const start = this.pos;
    this.pos++;
    if (this.tryClose(')')) return [];
    const first = this.parseValue();
    if (this.tryClose(')')) return first;
    this.pos = start;
    return this.parseSequence(')');
  }

  /** A list or a tuple (both become arrays). */
  private parseSequence(close: string): PythonValue[] {
    this.pos++;
    const items: PythonValue[] = [];
    if (this.tryClose(close)) return items;
    for (;;) {
      items.push(this.parseValue());
      if (this.afterItem(close)) return items;
    }
  }

  private parseKeyword(): PythonKey {
    const match = /^[A-Za-z_]\w*/.exec(this.text.slice(this.pos));
    const word = match![0];
    if (!(word in KEYWORDS)) this.fail(`Unknown name '${word}'`);
    this.pos += word.length;
    return KEYWORDS[word]!;
  }

  private parseNumber(): number {
    const match = NUMBER_PATTERN.exec(this.text.slice(this.pos));
    if (!match) this.fail('Expected a value');
    const literal = match[0];
    if (/_(?!\d)|(?<!\d)_/.test(literal)) this.fail('Misplaced underscore in number');
    const value = Number(literal.replace(/_/g, ''));
    if (!Number.isFinite(value)) this.fail(`Invalid number '${literal}'`);
    this.pos += literal.length;
    return value;
  }

  private parseString(): string {
    const quote = this.text[this.pos]!;
    this.pos++;
    let result = '';
    for (;;) {
      const ch = this.text[this.pos];
      if (ch === undefined || ch === '\n') this.fail('Unterminated string');
      this.pos++;
      if (ch === quote) return result;
      if (ch !== '\\') {
        result += ch;
        continue;
      }
      result += this.parseEscape();
    }
  }

  private parseEscape(): string {
    const ch = this.text[this.pos];
    if (ch === undefined) this.fail('Unterminated string');
    this.pos++;
    const simple = SIMPLE_ESCAPES[ch];
    if (simple !== undefined && !(ch === '0' && /[0-7]/.test(this.text[this.pos] ?? ''))) return simple;
    if (ch === 'x') return this.parseCodePoint(2);
    if (ch === 'u') return this.parseCodePoint(4);
    if (ch === 'U') return this.parseCodePoint(8);
    if (/[0-7]/.test(ch)) {
      const octal = /^[0-7]{0,2}/.exec(this.text.slice(this.pos))![0];
      this.pos += octal.length;
      return String.fromCodePoint(parseInt(ch + octal, 8));
    }
    if (ch === '\n') return '';
    // Python keeps unknown escapes verbatim (with a warning).
    return `\\${ch}`;
  }

  private parseCodePoint(digits: number): string {
    const hex = this.text.slice(this.pos, this.pos + digits);
    if (hex.length !== digits || !/^[0-9a-fA-F]+$/.test(hex)) this.fail(`Invalid \\x/\\u escape '${hex}'`);
    const codePoint = parseInt(hex, 16);
    if (codePoint > 0x10ffff) this.fail('Escape outside the Unicode range');
    this.pos += digits;
    return String.fromCodePoint(codePoint);
  }
}
