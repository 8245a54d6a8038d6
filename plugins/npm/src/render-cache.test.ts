import { describe, expect, it } from 'vitest';
import type { Packument } from './packument.js';
import { PackumentCache } from './render-cache.js';

const doc = (name: string, padding = 0): Packument => ({ name, 'dist-tags': {}, versions: {}, readme: 'x'.repeat(padding) });

describe('PackumentCache', () => {
  it('keeps parsed documents by key and forgets the least recently used past its budget', () => {
    const cache = new PackumentCache(4000); // 2000 bytes for parsed documents
    const a = doc('a');
    cache.setParsed('a', a, 800);
    cache.setParsed('b', doc('b'), 800);
    expect(cache.getParsed('a')).toBe(a); // a is now the most recently used
    cache.setParsed('c', doc('c'), 800);
    expect(cache.getParsed('b')).toBeUndefined();
    expect(cache.getParsed('a')).toBe(a);
    expect(cache.getParsed('c')).toBeDefined();
    expect(cache.stats().parsedBytes).toBe(1600);
  });

  it('does not keep a document over half its budget', () => {
    const cache = new PackumentCache(4000);
    cache.setParsed('big', doc('big'), 1001);
    expect(cache.getParsed('big')).toBeUndefined();
  });

  it('renders once per document and variant, with a sha256 ETag', () => {
    const cache = new PackumentCache();
    const shared = doc('a');
    cache.setParsed('a', shared, 10);
    let produced = 0;
    const produce = () => {
      produced++;
      return { name: 'a' };
    };
    const first = cache.render(shared, 'full', produce);
    expect(cache.render(shared, 'full', produce)).toBe(first);
    expect(produced).toBe(1);
    expect(first.bytes.toString()).toBe('{"name":"a"}');
    expect(first.etag).toMatch(/^"[0-9a-f]{64}"$/);
    cache.render(shared, 'abbreviated', produce);
    expect(produced).toBe(2);
  });

  it('renders a document it does not hold afresh, unless given a stable key', () => {
    const cache = new PackumentCache();
    let produced = 0;
    const produce = () => ({ n: ++produced });
    const loose = doc('loose');
    cache.render(loose, 'full', produce);
    cache.render(loose, 'full', produce);
    expect(produced).toBe(2);
    cache.render(doc('x'), 'full', produce, 'hosted:x:rev1');
    const again = cache.render(doc('x'), 'full', produce, 'hosted:x:rev1');
    expect(produced).toBe(3);
    expect(JSON.parse(again.bytes.toString())).toEqual({ n: 3 });
  });

  it('bounds the rendered answers by their bytes', () => {
    const cache = new PackumentCache(4000); // 2000 bytes for rendered answers
    for (let i = 0; i < 50; i++) cache.render(doc('a'), 'full', () => ({ padding: 'x'.repeat(300) }), `key-${i}`);
    expect(cache.stats().renderedBytes).toBeLessThanOrEqual(2000);
    expect(cache.stats().rendered).toBeGreaterThan(0);
  });
});
