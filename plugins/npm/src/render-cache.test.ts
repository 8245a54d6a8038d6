import type { DerivedCache, RenderedJson } from '@registry-core/api';
import { describe, expect, it } from 'vitest';
import type { Packument } from './packument.js';
import { keepParsedUpstream, parsedUpstream, renderPackument } from './render-cache.js';

/**
 * A DerivedCache that records what it is asked; `renderJson` serialises at once (the
 * kernel's, with its bound, its yielding and its sharing, has tests of its own).
 */
function memory(): DerivedCache & { sizes: Map<string, number>; renderKeys: (string | undefined)[] } {
  const values = new Map<string, unknown>();
  const sizes = new Map<string, number>();
  const renderKeys: (string | undefined)[] = [];
  return {
    sizes,
    renderKeys,
    get: <T>(key: string) => values.get(key) as T | undefined,
    set: (key: string, value: unknown, bytes: number) => {
      values.set(key, value);
      sizes.set(key, bytes);
    },
    renderJson: async (key: string | undefined, produce: () => unknown): Promise<RenderedJson> => {
      renderKeys.push(key);
      const bytes = Buffer.from(JSON.stringify(await produce()));
      return { chunks: [bytes], size: bytes.length, etag: '"e"' };
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

  it('renders through the kernel under the revision and the variant', async () => {
    const derived = memory();
    const rendered = await renderPackument(derived, 'full', async () => ({ name: 'a' }), 'rev1');
    expect(Buffer.concat(rendered.chunks).toString()).toBe('{"name":"a"}');
    await renderPackument(derived, 'abbreviated', () => ({}), 'rev1');
    await renderPackument(derived, 'full', () => ({}), 'rev2');
    expect(derived.renderKeys).toEqual(['npm:rendered\u0000rev1\u0000full', 'npm:rendered\u0000rev1\u0000abbreviated', 'npm:rendered\u0000rev2\u0000full']);
  });

  it('renders a document without a revision without keeping it', async () => {
    const derived = memory();
    await renderPackument(derived, 'full', () => ({}));
    expect(derived.renderKeys).toEqual([undefined]);
  });
});
