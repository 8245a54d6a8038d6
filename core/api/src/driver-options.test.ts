import { describe, expect, it } from 'vitest';
import { checkDriverOptions } from './driver-options.js';

describe('checkDriverOptions', () => {
  it('reads valid options and names every problem in one error', () => {
    const ok = checkDriverOptions('x', { a: 'text', n: 5, b: true, u: 'https://example.com', prefix: 'reg' }, ['a', 'n', 'b', 'u', 'prefix']);
    expect([ok.string('a'), ok.integer('n', 1, 0, 9, 'small'), ok.boolean('b', false), ok.url('u', 'https://x'), ok.prefix()]).toEqual(['text', 5, true, 'https://example.com', 'reg/']);
    expect(() => ok.done()).not.toThrow();
    const bad = checkDriverOptions('x', { a: '', n: 50, b: 'yes', u: 'ftp://x', prefix: 'a/../b', extra: 1 }, ['a', 'n', 'b', 'u', 'prefix']);
    bad.string('a');
    bad.integer('n', 1, 0, 9, 'from 0 to 9');
    bad.boolean('b', false);
    bad.url('u', 'https://x');
    bad.prefix();
    expect(() => bad.done()).toThrow(/^storage driver "x": unknown option "extra"; "a" must be a non-empty string; "n" must be from 0 to 9; "b" must be true or false; "u" must be an http\(s\) URL such as https:\/\/x; "prefix" must be a relative key prefix/);
  });
});
