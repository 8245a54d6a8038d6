import type { DerivedCache } from '@registry-core/api';
import { describe, expect, it } from 'vitest';
import type { Packument } from './packument.js';
import { keepParsedUpstream, parsedUpstream, renderPackument } from './render-cache.js';

/** A DerivedCache as the kernel's, without its bound (which the kernel's own tests cover). */
function memory(): DerivedCache & { sizes: Map<string, number> } {
  const values = new Map<string, unknown>();
  const sizes = new Map<string, number>();
  return {
    sizes,
    get: <T>(key: string) => values.get(key) as T | undefined,
    set: (key: string, value: unknown, bytes: number) => {
      values.set(key, value);
      sizes.set(key, bytes);
    },
  };
}

const doc = (name: string): Packument => ({ name, 'dist-tags': {}, versions: {} });

describe('packument caches on the kernel\'s derived memory', () => {
  it('keeps parsed upstream documents by key, accounted by their source bytes', () => {
    const derived = memory();
    const a = doc('a');
    keepParsedUpstream(derived, 'sha-a', a, 800);
    expect(parsedUpstream(derived, 'sha-a')).toBe(a);
    expect(parsedUpstream(derived, 'sha-b')).toBeUndefined();
    expect([...derived.sizes.values()]).toEqual([800]);
  });

  it('renders once per revision and variant, with a sha256 ETag', () => {
    const derived = memory();
    let produced = 0;
    const produce = () => ({ name: 'a', n: ++produced });
    const first = renderPackument(derived, 'full', produce, 'rev1');
    expect(renderPackument(derived, 'full', produce, 'rev1')).toBe(first);
    expect(produced).toBe(1);
    expect(first.bytes.toString()).toBe('{"name":"a","n":1}');
    expect(first.etag).toMatch(/^"[0-9a-f]{64}"$/);
    renderPackument(derived, 'abbreviated', produce, 'rev1');
    renderPackument(derived, 'full', produce, 'rev2');
    expect(produced).toBe(3);
  });

  it('renders a document without a revision afresh every time', () => {
    const derived = memory();
    let produced = 0;
    const produce = () => ({ n: ++produced });
    renderPackument(derived, 'full', produce);
    renderPackument(derived, 'full', produce);
    expect(produced).toBe(2);
    expect(derived.sizes.size).toBe(0);
  });
});
