import { isRegistryError } from '@registry-core/api';
import { describe, expect, it, vi } from 'vitest';
import { MetadataMemory } from './metadata-memory.js';

const code = (error: unknown) => (isRegistryError(error) ? `${error.status} ${error.code}` : String(error));

describe('MetadataMemory', () => {
  it('lets reads in while they fit, queues the rest first come first served, and frees on release', async () => {
    const memory = new MetadataMemory(100, 60_000);
    const a = await memory.acquire(60, 'a');
    const order: string[] = [];
    const b = memory.acquire(50, 'b').then((release) => (order.push('b'), release));
    const c = memory.acquire(10, 'c').then((release) => (order.push('c'), release));
    await new Promise((r) => setImmediate(r));
    // c would fit, but b came first: nobody overtakes a waiting read.
    expect(order).toEqual([]);
    expect(memory.stats()).toMatchObject({ inUseBytes: 60, waiting: 2 });
    a();
    // A second release of the same grant changes nothing.
    a();
    const [releaseB, releaseC] = await Promise.all([b, c]);
    expect(order).toEqual(['b', 'c']);
    expect(memory.stats()).toMatchObject({ inUseBytes: 60, peakBytes: 60, waiting: 0, waited: 2, refused: 0 });
    releaseB();
    releaseC();
    expect(memory.stats().inUseBytes).toBe(0);
  });

  it('refuses with a 503 a document larger than all of it, and a read whose wait runs out', async () => {
    vi.useFakeTimers();
    try {
      const memory = new MetadataMemory(100, 5_000);
      await expect(memory.acquire(101, 'huge')).rejects.toSatisfy((e) => code(e) === '503 METADATA_MEMORY_BUSY');
      const held = await memory.acquire(80, 'first');
      const late = memory.acquire(30, 'late').catch((e: unknown) => e);
      const after = memory.acquire(10, 'after');
      await vi.advanceTimersByTimeAsync(5_000);
      const refused = await late;
      expect(code(refused)).toBe('503 METADATA_MEMORY_BUSY');
      expect((refused as { headers: Record<string, string> }).headers['Retry-After']).toBe('5');
      // The one queued behind the refused read fits and is let in.
      (await after)();
      held();
      expect(memory.stats()).toMatchObject({ inUseBytes: 0, refused: 2, waiting: 0 });
    } finally {
      vi.useRealTimers();
    }
  });

  it('parses under the budget, counts three times the size, and gives it back on a parse error', async () => {
    const memory = new MetadataMemory(1000);
    const seen: number[] = [];
    const value = await memory.parseJson<{ a: number }>(9, 'doc', async () => {
      seen.push(memory.stats().inUseBytes);
      return Buffer.from('{"a": 12}');
    });
    expect(value).toEqual({ a: 12 });
    expect(seen).toEqual([27]);
    await expect(memory.parseJson(3, 'bad', async () => Buffer.from('{x}'))).rejects.toThrow(SyntaxError);
    expect(memory.stats()).toMatchObject({ inUseBytes: 0, parses: 2 });
  });
});
