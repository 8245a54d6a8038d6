import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { expectedFromDist, sriFromHex } from './integrity.js';

const bytes = Buffer.from('a tarball');
const sha512 = createHash('sha512').update(bytes).digest('hex');
const sha256 = createHash('sha256').update(bytes).digest('hex');
const sha1 = createHash('sha1').update(bytes).digest('hex');
const sri = (algorithm: string, hex: string) => `${algorithm}-${Buffer.from(hex, 'hex').toString('base64')}`;

describe('expectedFromDist', () => {
  it('turns the SRI integrity (base64) into hex digests', () => {
    expect(expectedFromDist({ integrity: sri('sha512', sha512) })).toEqual({ sha512 });
    expect(sriFromHex(sha512)).toBe(sri('sha512', sha512));
  });

  it('takes every algorithm of a multi-hash integrity, and the shasum', () => {
    expect(expectedFromDist({ integrity: `${sri('sha512', sha512)} ${sri('sha1', sha1)}`, shasum: sha1 })).toEqual({ sha512, sha1 });
    expect(expectedFromDist({ integrity: `  ${sri('sha256', sha256)}\n${sri('sha512', sha512)}?opt ` })).toEqual({ sha256, sha512 });
  });

  it('keeps the first digest of an algorithm named twice', () => {
    const other = createHash('sha512').update('x').digest('hex');
    expect(expectedFromDist({ integrity: `${sri('sha512', sha512)} ${sri('sha512', other)}` })).toEqual({ sha512 });
  });

  it('lower-cases an upper-case shasum and ignores malformed ones', () => {
    expect(expectedFromDist({ shasum: sha1.toUpperCase() })).toEqual({ sha1 });
    expect(expectedFromDist({ shasum: 'nope' })).toBeUndefined();
    expect(expectedFromDist({ shasum: `${sha1}00` })).toBeUndefined();
  });

  it('answers undefined when nothing usable is announced', () => {
    expect(expectedFromDist(undefined)).toBeUndefined();
    expect(expectedFromDist({})).toBeUndefined();
    expect(expectedFromDist({ integrity: 'md5-xyz' })).toBeUndefined();
    expect(expectedFromDist({ integrity: 42, shasum: null })).toBeUndefined();
  });
});
