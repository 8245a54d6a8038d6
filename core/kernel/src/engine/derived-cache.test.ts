import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DerivedMemory } from './derived-cache.js';

describe('DerivedMemory', () => {
  it('keeps each repository\'s keys apart and evicts the least recently used past its budget', () => {
    const memory = new DerivedMemory(16_000);
    const a = memory.forRepository('a');
    const b = memory.forRepository('b');
    a.set('k', 'from a', 500);
    b.set('k', 'from b', 500);
    expect(a.get('k')).toBe('from a');
    expect(b.get('k')).toBe('from b');
    for (let i = 0; i < 20; i++) a.set(`fill${i}`, i, 500);
    // `k` of b was used least recently: gone; the budget holds.
    expect(b.get('k')).toBeUndefined();
    expect(memory.stats().bytes).toBeLessThanOrEqual(16_000);
    // An entry over an eighth of the budget is not kept.
    a.set('huge', 'x', 2000);
    expect(a.get('huge')).toBeUndefined();
  });

  it('evicts values (parsed documents) before renderings past its budget', async () => {
    // An install reads a few hundred packuments: each parsed (a value, larger) and rendered
    // (abbreviated, smaller). The parsed ones read later must not push out the renderings
    // that the next install is answered from.
    const memory = new DerivedMemory(20_000);
    const a = memory.forRepository('a');
    const renderings = [];
    for (let i = 0; i < 4; i++) renderings.push(await a.renderJson(`rendered${i}`, () => ({ list: 'x'.repeat(1000) })));
    for (let i = 0; i < 12; i++) a.set(`parsed${i}`, { i }, 2000);
    expect(memory.stats().bytes).toBeLessThanOrEqual(20_000);
    let produced = 0;
    for (let i = 0; i < 4; i++) expect(await a.renderJson(`rendered${i}`, () => ({ n: ++produced }))).toBe(renderings[i]);
    expect(produced).toBe(0);
    // The oldest values went; the newest are kept.
    expect(a.get('parsed0')).toBeUndefined();
    expect(a.get('parsed11')).toEqual({ i: 11 });
    // With no value left to drop, renderings go, least recently used first.
    for (let i = 4; i < 20; i++) await a.renderJson(`rendered${i}`, () => ({ list: 'y'.repeat(1000) }));
    expect(memory.stats().bytes).toBeLessThanOrEqual(20_000);
    expect(a.get('parsed11')).toBeUndefined();
    expect(a.get('rendered19')).toBeDefined();
    expect(a.get('rendered0')).toBeUndefined();
  });

  it('keeps values within an eighth of its budget, with room to spare for renderings', async () => {
    const memory = new DerivedMemory(80_000);
    const a = memory.forRepository('a');
    const rendering = await a.renderJson('rendered', () => ({ list: 'x'.repeat(1000) }));
    for (let i = 0; i < 10; i++) a.set(`parsed${i}`, { i }, 2000);
    const stats = memory.stats();
    // Four values of about 2 KB each would fit an eighth; ten did not, though the whole budget had room.
    expect(stats.valueBytes).toBeLessThanOrEqual(10_000);
    expect(stats.valueBytes).toBeGreaterThan(6000);
    expect(stats.bytes).toBeLessThan(20_000);
    expect(a.get('parsed0')).toBeUndefined();
    expect(a.get('parsed5')).toBeUndefined();
    expect(a.get('parsed9')).toEqual({ i: 9 });
    expect(await a.renderJson('rendered', () => ({ n: 1 }))).toBe(rendering);
    // Replacing and dropping keep the account: a value under a slot replaced leaves its bytes.
    a.set('slotted', 'one', 2000, 'slot');
    a.set('slotted2', 'two', 2000, 'slot');
    expect(a.get('slotted')).toBeUndefined();
    expect(memory.stats().valueBytes).toBeLessThanOrEqual(10_000);
  });
});

describe('DerivedMemory.renderJson', () => {
  it('renders JSON yieldingly, keeps it under its key and shares a rendering under way', async () => {
    const memory = new DerivedMemory(1 << 20);
    const a = memory.forRepository('a');
    let produced = 0;
    const produce = async () => ({ n: ++produced, list: Array.from({ length: 500 }, (_, i) => ({ i })) });
    const [first, second] = await Promise.all([a.renderJson('k', produce), a.renderJson('k', produce)]);
    expect(produced).toBe(1);
    expect(second).toBe(first);
    expect(Buffer.concat(first!.chunks).toString()).toBe(JSON.stringify({ n: 1, list: Array.from({ length: 500 }, (_, i) => ({ i })) }));
    expect(await a.renderJson('k', produce)).toBe(first);
    expect(produced).toBe(1);
    // Another repository's key of the same name is its own.
    await memory.forRepository('b').renderJson('k', produce);
    expect(produced).toBe(2);
    // Without a key: rendered every time, never kept.
    const before = memory.stats().entries;
    await a.renderJson(undefined, produce);
    await a.renderJson(undefined, produce);
    expect(produced).toBe(4);
    expect(memory.stats().entries).toBe(before);
    // Four renderings (the kept one and the shared one are not renderings).
    expect(memory.stats().renders).toBe(4);
  });

  it('keeps nothing when producing or rendering fails, and tries again next time', async () => {
    const memory = new DerivedMemory(1 << 20);
    const a = memory.forRepository('a');
    await expect(a.renderJson('k', () => Promise.reject(new Error('no document')))).rejects.toThrow('no document');
    await expect(a.renderJson('k', () => ({ n: 1n }))).rejects.toThrow(TypeError);
    const rendered = await a.renderJson('k', () => ({ ok: true }));
    expect(Buffer.concat(rendered.chunks).toString()).toBe('{"ok":true}');
    expect(rendered.size).toBe(11);
  });
});

describe('DerivedMemory.renderText', () => {
  it('keeps a text answer\'s UTF-8 bytes and sha256 ETag under its key, replaced under its slot', async () => {
    const memory = new DerivedMemory(1 << 20);
    const a = memory.forRepository('a');
    let produced = 0;
    const produce = (text: string) => () => {
      produced++;
      return text;
    };
    const [first, second] = await Promise.all([a.renderText('r1', produce('<x>é</x>'), 'doc'), a.renderText('r1', produce('<x>é</x>'), 'doc')]);
    expect(produced).toBe(1);
    expect(second).toBe(first);
    expect(Buffer.concat(first.chunks).toString('utf8')).toBe('<x>é</x>');
    expect(first.size).toBe(Buffer.byteLength('<x>é</x>'));
    expect(first.etag).toBe(`"${createHash('sha256').update('<x>é</x>').digest('hex')}"`);
    expect(await a.renderText('r1', produce('other'), 'doc')).toBe(first);
    expect(produced).toBe(1);
    // A new revision under the same slot replaces the kept rendering.
    const newer = await a.renderText('r2', produce('<x>2</x>'), 'doc');
    expect(Buffer.concat(newer.chunks).toString()).toBe('<x>2</x>');
    expect(memory.stats().entries).toBe(1);
  });
});

describe('DerivedMemory slots', () => {
  it('keeps one value per slot: a newer revision\'s rendering replaces the older one\'s', async () => {
    // bench/soak.mjs: with a package published to all the time, every revision's renderings
    // stayed until they aged out (the derived memory grew through the whole run).
    const memory = new DerivedMemory(1 << 24);
    const a = memory.forRepository('npm');
    for (let revision = 1; revision <= 50; revision++) {
      const versions = Object.fromEntries(Array.from({ length: revision }, (_, i) => [`1.0.${i}`, { version: `1.0.${i}` }]));
      await a.renderJson(`rev${revision}\u0000full`, () => ({ name: 'pkg', versions }), 'pkg\u0000full');
      await a.renderJson(`rev${revision}\u0000abbreviated`, () => ({ name: 'pkg', versions }), 'pkg\u0000abbreviated');
      a.set(`parsed\u0000sha${revision}`, { revision }, 1000, 'parsed\u0000pkg');
    }
    // One full and one abbreviated rendering and one parsed document: the last revision's.
    expect(memory.stats().entries).toBe(3);
    expect(a.get('parsed\u0000sha50')).toEqual({ revision: 50 });
    expect(a.get('parsed\u0000sha49')).toBeUndefined();
    const renders = memory.stats().renders;
    await a.renderJson('rev50\u0000full', () => ({}), 'pkg\u0000full');
    expect(memory.stats().renders).toBe(renders);
    // Slots are per repository, like keys; a value without a slot is not replaced.
    const b = memory.forRepository('npm-local');
    await b.renderJson('rev1\u0000full', () => ({ name: 'pkg' }), 'pkg\u0000full');
    b.set('other', 1, 10);
    b.set('other2', 2, 10);
    expect(memory.stats().entries).toBe(6);
    // Dropped entries are no longer accounted.
    const bytes = memory.stats().bytes;
    a.set('parsed\u0000sha51', { revision: 51 }, 1000, 'parsed\u0000pkg');
    expect(memory.stats().bytes).toBe(bytes + 'sha51'.length - 'sha50'.length);
  });
});
