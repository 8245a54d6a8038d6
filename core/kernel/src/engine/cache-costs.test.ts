// A cache's budget is of real memory: a budget of N bytes holds about N bytes of the
// process's memory (found by bench/soak.mjs: counting only the payload, the blob memory
// cache's entries of a few hundred bytes cost two to three times what it counted, and kept
// renderings each held an 8 KiB pool slab).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { DerivedMemory } from './derived-cache.js';
import { BlobMemoryCache } from './memory-cache.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** V8 heap and ArrayBuffers in use after full collections. */
function held(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const BUDGET = 4 * 1024 * 1024;
/** Keys as the blob store makes them: `<storage>\0<blob key>`. */
const blobKey = (i: number) => `default\u0000sha256/${i.toString(16).padStart(64, '0')}`;

describe('cache budgets count real memory', () => {
  it('BlobMemoryCache: 4 MB of small blobs hold about 4 MB, not several times that', () => {
    const before = held();
    const cache = new BlobMemoryCache(BUDGET, 1024 * 1024);
    // 50,000 blobs of 100 bytes: 5 MB of payload, far more with their keys and Buffers.
    for (let i = 0; i < 50_000; i++) cache.set(blobKey(i), Buffer.allocUnsafeSlow(100).fill(i & 0xff));
    const bytes = held() - before;
    expect(cache.size.bytes).toBeLessThanOrEqual(BUDGET);
    // Measured without the backing stores' native bookkeeping: a lower bound of what it
    // costs, so it must not be over the budget, and the budget is used (not over-charged).
    expect(bytes).toBeLessThanOrEqual(BUDGET * 1.1);
    expect(bytes).toBeGreaterThan(BUDGET * 0.5);
    expect(cache.get(blobKey(49_999))).toBeDefined();
  });

  it('DerivedMemory: kept renderings of small documents hold about the budget, not a pool slab each', async () => {
    const before = held();
    const memory = new DerivedMemory(BUDGET);
    const cache = memory.forRepository('npm-local');
    const garbage: Buffer[] = [];
    for (let i = 0; i < 20_000; i++) {
      // A small packument rendered while requests allocate other small Buffers from Node's
      // pool (in a server: headers, bodies): its chunk shares a slab with them.
      await cache.renderJson(`npm:rendered\u0000rev-${i}\u0000full`, () => ({ name: `pkg-${i}`, 'dist-tags': { latest: '1.0.0' }, versions: { '1.0.0': { name: `pkg-${i}`, version: '1.0.0' } } }));
      garbage.push(Buffer.from(`request ${i} `.repeat(40)));
      if (garbage.length > 16) garbage.shift();
    }
    garbage.length = 0;
    const bytes = held() - before;
    expect(memory.stats().bytes).toBeLessThanOrEqual(BUDGET);
    expect(bytes).toBeLessThanOrEqual(BUDGET * 1.1);
    expect(bytes).toBeGreaterThan(BUDGET * 0.5);
  });

  it('DerivedMemory.set: a value is charged its key and entry besides the bytes its owner names', () => {
    const memory = new DerivedMemory(1024 * 1024);
    const cache = memory.forRepository('r');
    cache.set('k', { a: 1 }, 100);
    const { bytes } = memory.stats();
    // The owner's 100 bytes, the key (repository prefix included) and the entry's overhead.
    expect(bytes).toBeGreaterThan(100 + 'r\u0000k'.length);
    cache.set('k', { a: 2 }, 100);
    expect(memory.stats().bytes).toBe(bytes);
  });
});
