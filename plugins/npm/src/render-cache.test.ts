import type { DerivedCache, RenderedJson } from '@registry-core/api';
import { describe, expect, it } from 'vitest';
import type { Packument } from './packument.js';
import { keepParsedUpstream, parsedUpstream, renderPackument } from './render-cache.js';

/**
 * A DerivedCache that records what it is asked; `renderJson` serialises at once (the
 * kernel's, with its bound, its yielding and its sharing, has tests of its own).
 */
function memory(): DerivedCache & { sizes: Map<string, number>; slots: (string | undefined)[]; renderKeys: (string | undefined)[] } {
  const values = new Map<string, unknown>();
  const sizes = new Map<string, number>();
  const slots: (string | undefined)[] = [];
  const renderKeys: (string | undefined)[] = [];
  return {
    sizes,
    slots,
    renderKeys,
    get: <T>(key: string) => values.get(key) as T | undefined,
    set: (key: string, value: unknown, bytes: number, slot?: string) => {
      values.set(key, value);
      sizes.set(key, bytes);
      slots.push(slot);
    },
    renderJson: async (key: string | undefined, produce: () => unknown, slot?: string): Promise<RenderedJson> => {
      renderKeys.push(key);
      slots.push(slot);
      const bytes = Buffer.from(JSON.stringify(await produce()));
      return { chunks: [bytes], size: bytes.length, etag: '"e"' };
    },
    renderText: async (key: string | undefined, produce: () => string | Promise<string>, slot?: string): Promise<RenderedJson> => {
      renderKeys.push(key);
      slots.push(slot);
      const bytes = Buffer.from(await produce());
      return { chunks: [bytes], size: bytes.length, etag: '"e"' };
    },
  };
}

const doc = (name: string): Packument => ({ name, 'dist-tags': {}, versions: {} });

describe('packument caches on the kernel\'s derived memory', () => {
  it('keeps parsed upstream documents by key, accounted by what they cost parsed, one per name and base URL', () => {
    const derived = memory();
    const a = doc('a');
    keepParsedUpstream(derived, 'sha-a', a, 800, 'a\u0000http://x/');
    expect(parsedUpstream(derived, 'sha-a')).toBe(a);
    expect(parsedUpstream(derived, 'sha-b')).toBeUndefined();
    // A parsed document costs about 1.5 times its JSON text.
    expect([...derived.sizes.values()]).toEqual([1200]);
    expect(derived.slots).toEqual(['npm:parsed\u0000a\u0000http://x/']);
  });

  it('renders through the kernel under the revision and the variant', async () => {
    const derived = memory();
    const rendered = await renderPackument(derived, 'full', async () => ({ name: 'a' }), 'rev1', 'a-full');
    expect(Buffer.concat(rendered.chunks).toString()).toBe('{"name":"a"}');
    await renderPackument(derived, 'abbreviated', () => ({}), 'rev1', 'a-abbreviated');
    await renderPackument(derived, 'full', () => ({}), 'rev2', 'a-full');
    expect(derived.renderKeys).toEqual(['npm:rendered\u0000rev1\u0000full', 'npm:rendered\u0000rev1\u0000abbreviated', 'npm:rendered\u0000rev2\u0000full']);
    // rev2's full rendering takes rev1's slot (the kernel then drops rev1's).
    expect(derived.slots).toEqual(['npm:rendered\u0000a-full', 'npm:rendered\u0000a-abbreviated', 'npm:rendered\u0000a-full']);
  });

  it('renders a document without a revision without keeping it', async () => {
    const derived = memory();
    await renderPackument(derived, 'full', () => ({}), undefined, 'a-full');
    expect(derived.renderKeys).toEqual([undefined]);
  });
});
