import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { renderJsonYielding, stringifyJsonYielding } from './yielding-stringify.js';

/** Our bytes for `value` with the given slice (1: every container is walked member by member). */
async function ours(value: unknown, sliceChars = 1, chunkChars = 7): Promise<string | undefined> {
  const chunks = await stringifyJsonYielding(value, { sliceChars, chunkChars, budgetMs: 0 });
  return chunks === undefined ? undefined : Buffer.concat(chunks).toString('utf8');
}

/** Byte-identical to JSON.stringify, walked everywhere, walked only where large, and in one call. */
async function same(value: unknown): Promise<void> {
  const native = JSON.stringify(value) as string | undefined;
  for (const slice of [1, 8, 64, 1 << 20]) {
    expect(await ours(value, slice), `slice ${slice}`).toBe(native);
  }
}

class WithToJson {
  constructor(private readonly v: unknown) {}
  toJSON(key: string): unknown {
    return { key, v: this.v };
  }
}

const cases: Record<string, () => unknown> = {
  'scalars and empties': () => [1, -0, 0.5e-3, 1e21, -1e-7, Number.NaN, Infinity, -Infinity, true, false, null, '', 'x', [], {}, [[]], { a: {} }],
  'undefined, functions and symbols: left out of objects, null in arrays': () => ({
    a: undefined,
    b: () => 1,
    c: Symbol('s'),
    d: [undefined, () => 1, Symbol('t'), 1],
    e: { only: undefined },
    f: 2,
    [Symbol('k')]: 'symbol keys are not members',
  }),
  'sparse arrays': () => {
    const a: unknown[] = [1];
    a[5] = 2;
    return { a, b: new Array(3) };
  },
  'unicode: escapes, surrogates, lone surrogates, raw UTF-8 in keys and values': () => ({
    'été': ['日本語テキスト', '😀😀😀', '\ud800 lone', 'lone \udfff', '\u0000\u001f\u007f\u2028\u2029'],
    'k"ey\\': '\n\t/\b\f\r"\\',
    '😀': { 'ü': 'ß'.repeat(50) },
  }),
  'integer-like keys in JavaScript order': () => ({ b: 1, 10: [1, 2, 3], 2: 3, a: { 1: 1, 0: [0, 0, 0] }, 4294967295: 1, '-1': 2, '01': 3 }),
  '__proto__ as an own member, large and small': () => JSON.parse('{"__proto__": {"polluted": [1,2,3,4,5,6,7,8,9]}, "x": {"__proto__": 1}, "y": [{"__proto__": null}, 1, 2]}') as unknown,
  'Dates and toJSON with its key, in objects and arrays': () => ({
    when: new Date(0),
    list: [new Date(1e12), new WithToJson(1), new WithToJson([1, 2, 3]), 4],
    own: new WithToJson({ deep: new WithToJson('x') }),
    nested: { inner: new WithToJson(undefined) },
  }),
  'a toJSON returning undefined, a function or an object with its own toJSON': () => ({
    gone: { toJSON: () => undefined },
    fn: { toJSON: () => () => 1 },
    twice: { toJSON: () => ({ toJSON: () => 'never called', kept: true }) },
    list: [{ toJSON: () => undefined }, { toJSON: () => ({ toJSON: () => 'never', x: 1 }) }],
  }),
  'toJSON on a prototype and non-function toJSON members': () => {
    const proto = { toJSON(this: { n: number }, key: string) { return `${key}:${this.n}`; } };
    return { a: Object.assign(Object.create(proto) as object, { n: 1 }), b: { toJSON: 'not a function', c: 2 }, c: [Object.assign(Object.create(proto) as object, { n: 2 })] };
  },
  'boxed primitives are unwrapped': () => ({ n: new Number(3), s: new String('str'), b: new Boolean(false), list: [new String('x'), new Number(-1)] }),
  'inherited and non-enumerable properties are not members': () => {
    const o = Object.create({ inherited: 1 }) as Record<string, unknown>;
    o['own'] = 2;
    Object.defineProperty(o, 'hidden', { value: 3, enumerable: false });
    return { o, arr: Object.assign([1, 2], { extra: 'not a member' }) };
  },
  'null-prototype objects': () => Object.assign(Object.create(null) as object, { a: 1, b: [Object.assign(Object.create(null) as object, { c: 2 })] }),
  'a packument-like document': () => {
    const versions: Record<string, unknown> = {};
    for (let v = 0; v < 300; v++) {
      versions[`1.0.${v}`] = { name: 'big', version: `1.0.${v}`, description: 'd'.repeat(v % 97), deprecated: v % 5 ? undefined : 'old', dist: { tarball: `http://x/big/-/big-1.0.${v}.tgz`, shasum: 'a'.repeat(40) } };
    }
    return { name: 'big', 'dist-tags': { latest: '1.0.0' }, versions, time: { created: new Date(5) } };
  },
  'deep nesting': () => {
    let v: unknown = 'bottom';
    for (let i = 0; i < 200; i++) v = i % 2 ? [v, i] : { i, v };
    return v;
  },
  'top-level scalars': () => 'just a string 😀',
};

/** A random JSON-ish value (seeded), with the oddities above mixed in. */
function random(seed: number): unknown {
  let s = seed;
  const next = (): number => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
  const word = (): string => {
    const alphabet = ['a', 'Z', '0', ' ', '"', '\\', '\n', 'é', '日', '😀', '\ud800', '\u2028', '1'];
    return Array.from({ length: Math.floor(next() * 12) }, () => alphabet[Math.floor(next() * alphabet.length)]).join('');
  };
  const value = (depth: number): unknown => {
    const r = next();
    if (depth > 3 || r < 0.35) {
      const scalars = [() => word(), () => Math.floor(next() * 1e6) - 5e5, () => next() * 1e-3, () => null, () => true, () => undefined, () => new Date(Math.floor(next() * 1e12))];
      return scalars[Math.floor(next() * scalars.length)]!();
    }
    if (r < 0.65) return Array.from({ length: Math.floor(next() * 8) }, () => value(depth + 1));
    const o: Record<string, unknown> = {};
    for (let i = Math.floor(next() * 8); i > 0; i--) o[next() < 0.2 ? String(Math.floor(next() * 50)) : word()] = value(depth + 1);
    return o;
  };
  return value(0);
}

describe('stringifyJsonYielding', () => {
  for (const [name, make] of Object.entries(cases)) {
    it(`is byte-identical to JSON.stringify: ${name}`, async () => {
      await same(make());
    });
  }

  it('is byte-identical to JSON.stringify on 300 random values', async () => {
    for (let seed = 1; seed <= 300; seed++) {
      const value = random(seed);
      expect(await ours(value, 1 + (seed % 40)), `seed ${seed}`).toBe(JSON.stringify(value));
    }
  });

  it('gives undefined where JSON.stringify does', async () => {
    for (const value of [undefined, () => 1, Symbol('x'), { toJSON: () => undefined }]) {
      expect(await ours(value)).toBeUndefined();
      expect(JSON.stringify(value)).toBeUndefined();
    }
  });

  it('calls each toJSON once, with the key JSON.stringify gives it', async () => {
    const calls: string[] = [];
    const spy = (tag: string) => ({ toJSON: (key: string) => (calls.push(`${tag}:${key}`), tag) });
    const value = () => ({ a: spy('a'), list: [0, spy('i1'), [spy('i0')]], deep: { b: spy('b') } });
    JSON.stringify(value());
    const native = calls.splice(0);
    await ours(value());
    expect(calls).toEqual(native);
    expect(native).toEqual(['a:a', 'i1:1', 'i0:0', 'b:b']);
    calls.splice(0);
    await ours(spy('top'));
    expect(calls).toEqual(['top:']);
  });

  it('refuses what JSON.stringify refuses: cycles and BigInts', async () => {
    const cyclic: Record<string, unknown> = { a: [1, 2, 3] };
    (cyclic['a'] as unknown[]).push(cyclic);
    await expect(ours(cyclic)).rejects.toThrow(TypeError);
    await expect(ours(cyclic, 1 << 20)).rejects.toThrow(TypeError);
    await expect(ours({ n: [1, 2, 10n] })).rejects.toThrow(TypeError);
  });

  it('makes chunks about the chunk size, and yields on a zero budget', async () => {
    const value = Array.from({ length: 1000 }, (_, i) => ({ i, s: 'x'.repeat(100) }));
    let yields = 0;
    const chunks = (await stringifyJsonYielding(value, { sliceChars: 1024, chunkChars: 4096, budgetMs: 0, onYield: () => yields++ }))!;
    expect(Buffer.concat(chunks).toString()).toBe(JSON.stringify(value));
    expect(chunks.length).toBeGreaterThan(20);
    for (const chunk of chunks.slice(0, -1)) expect(chunk.length).toBeGreaterThanOrEqual(4096);
    expect(yields).toBeGreaterThan(100);
  });
});

describe('renderJsonYielding', () => {
  it('gives the bytes, their size and their sha256 ETag', async () => {
    const value = { name: 'a', versions: Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`1.0.${i}`, { v: i, s: 'é😀'.repeat(i % 30) }])) };
    const rendered = await renderJsonYielding(value);
    const bytes = Buffer.from(JSON.stringify(value));
    expect(Buffer.concat(rendered.chunks).equals(bytes)).toBe(true);
    expect(rendered.size).toBe(bytes.length);
    expect(rendered.etag).toBe(`"${createHash('sha256').update(bytes).digest('hex')}"`);
    expect(rendered.chunks.length).toBeGreaterThan(1);
  });

  it('refuses a value without JSON text', async () => {
    await expect(renderJsonYielding(undefined)).rejects.toThrow(TypeError);
  });
});
