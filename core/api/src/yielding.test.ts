import { describe, expect, it } from 'vitest';
import { forEachEntryYielding, forEachYielding, yielder } from './yielding.js';

describe('forEachYielding', () => {
  it('visits every item in order with its index', async () => {
    const seen: string[] = [];
    await forEachYielding(['a', 'b', 'c'], (item, index) => seen.push(`${index}${item}`));
    expect(seen).toEqual(['0a', '1b', '2c']);
    const entries: string[] = [];
    await forEachEntryYielding({ x: 1, y: 2 }, (key, value, index) => entries.push(`${index}${key}${value}`));
    expect(entries).toEqual(['0x1', '1y2']);
  });

  it('lets the event loop run between slices when the budget is spent', async () => {
    let yields = 0;
    let ranBetween = false;
    setImmediate(() => (ranBetween = true));
    const items = Array.from({ length: 1000 }, (_, i) => i);
    let sawItBefore = -1;
    await forEachYielding(
      items,
      (i) => {
        if (ranBetween && sawItBefore === -1) sawItBefore = i;
      },
      { budgetMs: 0, onYield: () => yields++ },
    );
    // With no budget it yields every 16 items: the callback queued before ran part way through.
    expect(yields).toBeGreaterThanOrEqual(62);
    expect(sawItBefore).toBeGreaterThan(0);
    expect(sawItBefore).toBeLessThan(1000);
  });

  it('passes on what the callback throws', async () => {
    await expect(
      forEachYielding([1, 2, 3], (i) => {
        if (i === 2) throw new Error('bad item');
      }),
    ).rejects.toThrow('bad item');
  });
});

describe('yielder', () => {
  it('yields only once the budget is spent', async () => {
    let yields = 0;
    const never = yielder({ budgetMs: 60_000, onYield: () => yields++ });
    for (let i = 0; i < 100; i++) await never();
    expect(never.due()).toBe(false);
    expect(yields).toBe(0);
    const always = yielder({ budgetMs: 0, onYield: () => yields++ });
    expect(always.due()).toBe(true);
    await always();
    expect(yields).toBe(1);
  });
});
