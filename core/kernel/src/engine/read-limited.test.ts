import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readLimited } from './read-limited.js';

const chunks = (...parts: string[]) => Readable.from(parts.map((p) => Buffer.from(p)));
const tooLarge = () => new Error('too large');

describe('readLimited', () => {
  it('reads a stream whole, with or without its expected size', async () => {
    expect((await readLimited(chunks('ab', 'cd', 'e'), 10, tooLarge)).toString()).toBe('abcde');
    expect((await readLimited(chunks('ab', 'cd', 'e'), 10, tooLarge, undefined, 5)).toString()).toBe('abcde');
    expect((await readLimited(chunks(), 10, tooLarge, undefined, 0)).length).toBe(0);
  });

  it('gives what came when the stream is shorter or longer than expected', async () => {
    expect((await readLimited(chunks('ab', 'c'), 10, tooLarge, undefined, 5)).toString()).toBe('abc');
    expect((await readLimited(chunks('ab', 'cd', 'ef', 'g'), 10, tooLarge, undefined, 3)).toString()).toBe('abcdefg');
    expect((await readLimited(chunks('abcdef'), 10, tooLarge, undefined, 2)).toString()).toBe('abcdef');
  });

  it('fails past the limit, whatever size was expected', async () => {
    let over = 0;
    await expect(readLimited(chunks('abc', 'def'), 5, tooLarge, () => over++, 5)).rejects.toThrow('too large');
    await expect(readLimited(chunks('abc', 'def'), 5, tooLarge, () => over++, 50)).rejects.toThrow('too large');
    expect(over).toBe(2);
  });
});
