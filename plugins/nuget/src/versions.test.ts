import { describe, expect, it } from 'vitest';
import { compareVersionText, fullVersion, isSemVer2, keyOf, normalizedVersion, parseVersion } from './versions.js';

describe('NuGet versions', () => {
  it('normalize as NuGet does: three numbers, a non-zero fourth, no leading zeros, no metadata', () => {
    expect(normalizedVersion(parseVersion('1.0')!)).toBe('1.0.0');
    expect(normalizedVersion(parseVersion('1.0.0.0')!)).toBe('1.0.0');
    expect(normalizedVersion(parseVersion('1.2.3.4')!)).toBe('1.2.3.4');
    expect(normalizedVersion(parseVersion('01.02.003')!)).toBe('1.2.3');
    expect(normalizedVersion(parseVersion('1.0.0-Beta.1+sha.abc')!)).toBe('1.0.0-Beta.1');
    expect(fullVersion(parseVersion('1.0.0-Beta.1+sha.abc')!)).toBe('1.0.0-Beta.1+sha.abc');
    expect(keyOf('1.0-BETA')).toBe('1.0.0-beta');
  });

  it('refuse what NuGet refuses', () => {
    for (const bad of ['1', '1.0.0.0.0', 'a.b', '1.0-', '1.0-01', '1.0.0-be ta', '../1.0', '1.0\0', '']) expect(parseVersion(bad), bad).toBeUndefined();
    expect(() => keyOf('not..a..version')).toThrow(/not a valid NuGet version/);
  });

  it('order releases after their prereleases, numeric labels by value, text case-insensitively', () => {
    const sorted = ['1.0.0', '1.0.0-beta.10', '1.0.0-alpha', '1.0.0-beta.2', '0.9.0', '1.0.0.1', '1.0.0-Beta'].sort(compareVersionText);
    expect(sorted).toEqual(['0.9.0', '1.0.0-alpha', '1.0.0-Beta', '1.0.0-beta.2', '1.0.0-beta.10', '1.0.0', '1.0.0.1']);
  });

  it('tell SemVer 2.0.0 versions apart', () => {
    expect(isSemVer2(parseVersion('1.0.0-beta')!)).toBe(false);
    expect(isSemVer2(parseVersion('1.0.0-beta.1')!)).toBe(true);
    expect(isSemVer2(parseVersion('1.0.0+build')!)).toBe(true);
  });
});
