import { describe, expect, it } from 'vitest';
import { buffersEntryCost } from './cache-costs.js';
import { BlobMemoryCache } from './memory-cache.js';

describe('BlobMemoryCache', () => {
  it('keeps a small blob in memory of its own, not as a view that pins a larger buffer (a pool slab)', () => {
    // Buffer.concat and Buffer.from give small Buffers that are views of a shared 8 KiB pool
    // slab: kept as they are, every cached blob of a few hundred bytes held a whole slab
    // (found by bench/soak.mjs: the server's memory grew with every new version published).
    const slab = Buffer.alloc(8192, 7);
    const view = slab.subarray(100, 600);
    const cache = new BlobMemoryCache(1024 * 1024, 1024 * 1024);
    cache.set('k', view);
    const kept = cache.get('k')!;
    expect(kept.equals(view)).toBe(true);
    expect(kept.buffer.byteLength).toBe(500);
    // Charged its bytes, its key and the overhead of the entry and the Buffer (cache-costs.ts).
    expect(cache.size).toEqual({ entries: 1, bytes: buffersEntryCost('k', [view]) });

    // A buffer that is its own whole memory is kept as it is (no copy).
    const whole = Buffer.allocUnsafeSlow(300).fill(1);
    cache.set('w', whole);
    expect(cache.get('w')).toBe(whole);
  });

  it('evicts the least recently used past its budget', () => {
    const entry = buffersEntryCost('a', [Buffer.alloc(400)]);
    const cache = new BlobMemoryCache(2 * entry + 100, 600);
    cache.set('a', Buffer.alloc(400));
    cache.set('b', Buffer.alloc(400));
    cache.get('a');
    cache.set('c', Buffer.alloc(400));
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBeDefined();
    expect(cache.size.bytes).toBe(2 * entry);
    cache.set('big', Buffer.alloc(700));
    expect(cache.get('big')).toBeUndefined();
  });

  it('keeps a blob read between insertions however many pass through (reads move it only when it has aged)', () => {
    const entry = buffersEntryCost('k00', [Buffer.alloc(100)]);
    const cache = new BlobMemoryCache(8 * entry, 600);
    for (let n = 0; n < 8; n++) cache.set(`k0${n}`, Buffer.alloc(100, n));
    for (let n = 10; n < 90; n++) {
      expect(cache.get('k00')?.[0]).toBe(0);
      cache.set(`k${n}`, Buffer.alloc(100, n));
      expect(cache.size.entries).toBe(8);
    }
    // The others went oldest first: the newest seven are the last ones set.
    for (let n = 83; n < 90; n++) expect(cache.get(`k${n}`)).toBeDefined();
    expect(cache.get('k82')).toBeUndefined();
  });
});
