import { describe, expect, it } from 'vitest';
import { parsePythonLiteral, PythonLiteralError } from '../../src/ml/python-literal.js';

describe('parsePythonLiteral', () => {
  it('parses an Ultralytics names dict with int keys, Cyrillic and both quote styles', () => {
    const names = parsePythonLiteral(`{0: '7', 1: 'Шэрница', 2: "it's", 3: 'say "hi"', 4: 'a\\'b'}`);
    expect(names).toEqual(
      new Map<unknown, unknown>([
        [0, '7'],
        [1, 'Шэрница'],
        [2, "it's"],
        [3, 'say "hi"'],
        [4, "a'b"],
      ]),
    );
  });

  it('parses lists, tuples, keywords and numbers', () => {
    expect(parsePythonLiteral('[640, 640]')).toEqual([640, 640]);
    expect(parsePythonLiteral('(1,)')).toEqual([1]);
    expect(parsePythonLiteral('(1)')).toBe(1);
    expect(parsePythonLiteral('()')).toEqual([]);
    expect(parsePythonLiteral('[True, False, None]')).toEqual([true, false, null]);
    expect(parsePythonLiteral('[-3, 2.5, -0.25, 1e-3, .5, 5., 1_000]')).toEqual([-3, 2.5, -0.25, 0.001, 0.5, 5, 1000]);
    expect(parsePythonLiteral('[1, 2, ]')).toEqual([1, 2]);
    expect(parsePythonLiteral('  {}  ')).toEqual(new Map());
  });

  it('parses nested args dicts as Ultralytics writes them', () => {
    const args = parsePythonLiteral("{'batch': 1, 'half': False, 'opset': None, 'imgsz': [480, 640], 'kpt': (17, 3)}");
    expect(args).toEqual(
      new Map<unknown, unknown>([
        ['batch', 1],
        ['half', false],
        ['opset', null],
        ['imgsz', [480, 640]],
        ['kpt', [17, 3]],
      ]),
    );
  });

  it('decodes escapes', () => {
    expect(parsePythonLiteral(String.raw`'a\nb\tc\\d'`)).toBe('a\nb\tc\\d');
    expect(parsePythonLiteral(String.raw`'\x41\u0416\U0001F527\101'`)).toBe('AЖ🔧A');
    expect(parsePythonLiteral(String.raw`'\q'`)).toBe('\\q');
  });

  it.each([
    ['', 'Unexpected end of input'],
    ['{0: }', 'Expected a value'],
    ["{0: 'a' 1: 'b'}", "Expected ','"],
    ["'unterminated", 'Unterminated string'],
    ['[1, 2', "Expected ','"],
    ['__import__("os")', "Unknown name '__import__'"],
    ['[1] extra', 'Unexpected trailing text'],
    ['{[1]: 2}', 'Unhashable dict key'],
    [String.raw`'\xZZ'`, 'Invalid'],
    ['1__0', 'Misplaced underscore'],
  ])('rejects %j with a clear error', (text, message) => {
    expect(() => parsePythonLiteral(text)).toThrow(PythonLiteralError);
    expect(() => parsePythonLiteral(text)).toThrow(message);
  });
});
