import { describe, expect, it } from 'vitest';
import { mergeSearchObjects, parseSearchQuery } from './search.js';
import { statusOf } from './testing/assertions.js';

describe('parseSearchQuery', () => {
  const parse = (query: string, max = 250) => parseSearchQuery(new URLSearchParams(query), max);

  it('reads text, size and from with npm\'s defaults', () => {
    expect(parse('text=react')).toEqual({ text: 'react', size: 20, from: 0 });
    expect(parse('text=a&size=5&from=10')).toEqual({ text: 'a', size: 5, from: 10 });
    expect(parse('')).toEqual({ text: '', size: 20, from: 0 });
  });

  it('caps size at the repository limit', () => {
    expect(parse('size=10000', 250).size).toBe(250);
    expect(parse('size=0').size).toBe(0);
  });

  it('cuts the text at 256 characters', () => {
    expect(parse(`text=${'a'.repeat(1000)}`).text).toHaveLength(256);
  });

  it.each(['size=-1', 'size=1.5', 'size=abc', 'size=10001', 'size=99999999', 'size=', 'from=-3', 'from=x', 'from=99999999'])('refuses %s with 400', (query) => {
    expect(statusOf(() => parse(query))).toBe(400);
  });
});

describe('mergeSearchObjects', () => {
  const object = (name: string, from: string) => ({ package: { name, from } });

  it('keeps member order, the first member wins a name, and cuts at size', () => {
    const merged = mergeSearchObjects(
      [{ objects: [object('a', 'hosted'), object('b', 'hosted')] }, { objects: [object('b', 'proxy'), object('c', 'proxy')] }, { error: 'down' }, undefined],
      2,
    );
    expect(merged.objects).toEqual([object('a', 'hosted'), object('b', 'hosted')]);
    expect(merged.total).toBe(3);
  });

  it('ignores malformed objects', () => {
    expect(mergeSearchObjects([{ objects: [null, { package: {} }, { package: { name: 'ok' } }, 'x'] }], 10).objects).toEqual([{ package: { name: 'ok' } }]);
  });
});
