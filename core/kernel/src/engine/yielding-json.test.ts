import { describe, expect, it } from 'vitest';
import { parseJsonYielding } from './yielding-json.js';

/** Parse with tiny slices, so every container of the inputs below takes the structural path. */
async function both(text: string, sliceBytes = 16): Promise<{ ours: unknown; native: unknown }> {
  const native = JSON.parse(text) as unknown;
  const ours = await parseJsonYielding(Buffer.from(text, 'utf8'), { sliceBytes, budgetMs: 0 });
  return { ours, native };
}

/** Equal values, same key order at every depth, same own `__proto__` properties, same prototypes. */
function expectSame(ours: unknown, native: unknown, where = '$'): void {
  if (typeof native !== 'object' || native === null) {
    expect(Object.is(ours, native), where).toBe(true);
    return;
  }
  expect(typeof ours, where).toBe('object');
  expect(Object.getPrototypeOf(ours), where).toBe(Object.getPrototypeOf(native));
  expect(Array.isArray(ours), where).toBe(Array.isArray(native));
  expect(Reflect.ownKeys(ours as object), where).toEqual(Reflect.ownKeys(native));
  for (const key of Reflect.ownKeys(native)) {
    const a = Object.getOwnPropertyDescriptor(ours, key)!;
    const b = Object.getOwnPropertyDescriptor(native, key)!;
    expect([a.enumerable, a.writable, a.configurable], `${where}.${String(key)}`).toEqual([b.enumerable, b.writable, b.configurable]);
    expectSame(a.value, b.value, `${where}.${String(key)}`);
  }
}

async function same(text: string, sliceBytes?: number): Promise<void> {
  const { ours, native } = await both(text, sliceBytes);
  expectSame(ours, native);
}

const cases: Record<string, string> = {
  'scalars in a large array': '[1, -0, 0.5e-3, 1E+400, -1e-400, 12345678901234567890, true, false, null, "", "x"]',
  'duplicate keys: last wins, first position': '{"a": 1, "b": [1,2,3,4,5,6,7,8,9], "a": {"c": [1,2,3,4,5,6,7,8]}, "d": 4, "b": 2}',
  '__proto__ as an own property, large and small': '{"__proto__": {"polluted": [1,2,3,4,5,6,7,8,9,10]}, "x": {"__proto__": 1}, "y": [{"__proto__": null}, 1,2,3,4,5,6,7,8]}',
  '__proto__ twice': '{"__proto__": [1,2,3,4,5,6,7,8,9,10,11,12], "z": 1, "__proto__": {"a": "bbbbbbbbbbbbbbbbbbbbbbb"}}',
  'integer-like keys keep JavaScript order': '{"b": 1, "10": [1,2,3,4,5,6,7,8,9], "2": 3, "a": {"1": 1, "0": [0,0,0,0,0,0,0,0,0,0]}, "4294967295": 1, "-1": 2}',
  'unicode escapes, surrogates and raw UTF-8': '{"\\u00e9t\\u00e9": "\\ud83d\\ude00 \\ud800 lone", "k\\"ey\\\\": ["été", "日本語テキスト", "😀😀😀😀😀", "\\n\\t\\/\\b\\f\\r"], "é": {"ü": "ß\\u0000"}}',
  'escaped quotes and backslashes around structural bytes': '["\\\\", "\\"]", "{\\"a\\": [", "\\\\\\"", "]}", ",,,:", {"\\\\\\"": "]"}]',
  'whitespace everywhere': ' \n\t\r{ "a" \n:\t[ 1 ,\r 2 , 3 , 4 , 5 , 6 , 7 ] , "b" : { } , "c" : [ ] , "d":"e" } \n ',
  'empty containers': '{"a": [], "b": {}, "c": [[], {}, [[]], [{}], [[[[[[]]]]]]], "dddddddddd": {"eeeeee": {}}}',
  'deep nesting': `${'['.repeat(300)}1${', {"k": [1,2,3]}]'.repeat(300)}`,
  'deep objects': `${'{"k":'.repeat(200)}"v"${'}'.repeat(200)}`,
  'a long string member': `{"a": "${'x'.repeat(1000)}", "b": ["${'y'.repeat(500)}", 1]}`,
  'a long number': `[${'9'.repeat(400)}, 1]`,
  'top-level large string': `"${'z'.repeat(100)}"`,
  'top-level scalar with space': `   ${'1'.repeat(40)}   `,
};

describe('parseJsonYielding', () => {
  for (const [name, text] of Object.entries(cases)) {
    it(`matches JSON.parse: ${name}`, async () => {
      for (const slice of [16, 17, 31, 64, 1000]) await same(text, slice);
    });
  }

  it('matches JSON.parse on generated documents at every slice size', async () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const keys = ['a', 'b', '__proto__', 'constructor', 'toString', '0', '1', '10', 'é', 'k"q', '', 'versions'];
    const strings = ['', 'x', 'é😀', '"quoted"', 'back\\slash', ']}', '{[', '\u2028', 'tab\t'];
    const build = (depth: number): unknown => {
      const r = random();
      if (depth > 5 || r < 0.3) {
        const s = random();
        if (s < 0.25) return Math.floor(random() * 1e6) / (random() < 0.5 ? 1 : 7);
        if (s < 0.5) return strings[Math.floor(random() * strings.length)];
        return s < 0.6 ? null : s < 0.8;
      }
      if (r < 0.6) return Array.from({ length: Math.floor(random() * 8) }, () => build(depth + 1));
      const entries = Array.from({ length: Math.floor(random() * 8) }, () => `${JSON.stringify(keys[Math.floor(random() * keys.length)])}: ${JSON.stringify(build(depth + 1))}`);
      return { raw: `{${entries.join(random() < 0.5 ? ',' : ' ,\n ')}}` };
    };
    // Raw objects keep duplicate keys and __proto__ keys in the text.
    const render = (value: unknown): string => {
      if (Array.isArray(value)) return `[${value.map(render).join(', ')}]`;
      if (value && typeof value === 'object' && 'raw' in value) return (value as { raw: string }).raw;
      return JSON.stringify(value);
    };
    for (let round = 0; round < 150; round++) {
      const text = render(build(0));
      for (const slice of [16, 40, 200]) await same(text, slice);
    }
  });

  it('refuses what JSON.parse refuses', async () => {
    const invalid = [
      '', ' ', '[', ']', '{', '[1,]', '[1 2]', '[,1]', '[1,,2]', '{"a":1,}', '{"a" 1}', '{a:1}', '{"a":}', "['x']",
      '[1] x', '[1]]', '{"a":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]]', '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17}',
      '["unterminated, 1, 2, 3, 4, 5, 6, 7, 8, 9]', '[tru, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]', '[01, 1, 2, 3, 4, 5, 6, 7, 8, 9]',
      '["\\x", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]', '\ufeff[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]', '[1, 2, 3, 4, 5, 6, 7, 8, 9, 10] [1]',
      '{"a": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "b"}', '[NaN, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]', '["a\nb", 1, 2, 3, 4, 5, 6, 7, 8, 9]',
    ];
    for (const text of invalid) {
      expect(() => JSON.parse(text), text).toThrow(SyntaxError);
      await expect(parseJsonYielding(Buffer.from(text), { sliceBytes: 16 }), text).rejects.toThrow(SyntaxError);
    }
  });

  it('yields to the event loop while parsing a large document, and gives the same value', async () => {
    const versions: Record<string, unknown> = {};
    for (let v = 0; v < 20_000; v++) versions[`1.0.${v}`] = { name: 'big', version: `1.0.${v}`, dist: { tarball: `http://x/big-1.0.${v}.tgz`, integrity: 'sha512-' + 'A'.repeat(86) }, deps: { a: '^1', b: '~2' } };
    const text = JSON.stringify({ name: 'big', 'dist-tags': { latest: '1.0.0' }, versions });
    let yields = 0;
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const ours = await parseJsonYielding(Buffer.from(text), { budgetMs: 1, onYield: () => yields++ });
    clearInterval(timer);
    expect(yields).toBeGreaterThan(0);
    expect(ticks).toBeGreaterThan(0);
    expect(ours).toEqual(JSON.parse(text));
  });
});
