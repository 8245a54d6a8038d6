import { describe, expect, it } from 'vitest';
import { DerivedMemory } from './derived-cache.js';

describe('DerivedMemory', () => {
  it('keeps each repository\'s keys apart and evicts the least recently used past its budget', () => {
    const memory = new DerivedMemory(8000);
    const a = memory.forRepository('a');
    const b = memory.forRepository('b');
    a.set('k', 'from a', 500);
    b.set('k', 'from b', 500);
    expect(a.get('k')).toBe('from a');
    expect(b.get('k')).toBe('from b');
    for (let i = 0; i < 20; i++) a.set(`fill${i}`, i, 500);
    // `k` of b was used least recently: gone; the budget holds.
    expect(b.get('k')).toBeUndefined();
    expect(memory.stats().bytes).toBeLessThanOrEqual(8000);
    // An entry over an eighth of the budget is not kept.
    a.set('huge', 'x', 2000);
    expect(a.get('huge')).toBeUndefined();
  });
});
