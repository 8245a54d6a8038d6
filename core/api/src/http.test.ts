import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readSmallBody, routeParam } from './http.js';

describe('readSmallBody', () => {
  it('reads a body up to the limit and refuses one past it', async () => {
    expect((await readSmallBody(Readable.from([Buffer.from('ab'), Buffer.from('cd')]), 4, 'the POM')).toString()).toBe('abcd');
    await expect(readSmallBody(Readable.from([Buffer.from('ab'), Buffer.from('cde')]), 4, 'the POM')).rejects.toMatchObject({ status: 413, message: 'the POM is over the 4-byte limit' });
  });
});

describe('routeParam', () => {
  it('joins a wildcard segment list with / and passes a plain parameter or an absent one through', () => {
    const ctx = { params: { path: ['a', 'b', 'c.json'], id: 'x', none: undefined } };
    expect(routeParam(ctx, 'path')).toBe('a/b/c.json');
    expect(routeParam(ctx, 'id')).toBe('x');
    expect(routeParam(ctx, 'none')).toBeUndefined();
    expect(routeParam(ctx, 'missing')).toBeUndefined();
  });
});
