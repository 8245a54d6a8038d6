import { describe, expect, it } from 'vitest';
import { compareVersions, isPrerelease, normalizeVersion, parseVersion, validateVersion } from './versions.js';

describe('PEP 440 versions', () => {
  it('normalizes the spellings PEP 440 allows', () => {
    const cases: [string, string][] = [
      ['1.0', '1.0'],
      ['v1.0', '1.0'],
      ['1.0-alpha1', '1.0a1'],
      ['1.0.beta.2', '1.0b2'],
      ['1.0c3', '1.0rc3'],
      ['1.0-preview', '1.0rc0'],
      ['1.0-1', '1.0.post1'],
      ['1.0.rev4', '1.0.post4'],
      ['1.0-dev', '1.0.dev0'],
      ['1!2.0', '1!2.0'],
      ['1.0+Ubuntu-1', '1.0+ubuntu.1'],
      ['1.0RC1.post2.dev3', '1.0rc1.post2.dev3'],
    ];
    for (const [input, canonical] of cases) expect(normalizeVersion(input), input).toBe(canonical);
  });

  it('refuses what is not a version', () => {
    for (const bad of ['', 'latest', '1.0.0-beta+', '1..0', '../1.0', '1.0\u0000', 'x'.repeat(200), '1.0 2.0']) {
      expect(parseVersion(bad), bad).toBeUndefined();
      expect(() => validateVersion(bad)).toThrow(/Invalid value for version/);
    }
  });

  it('orders dev < pre < final < post, locals after their public version, epochs first', () => {
    const ordered = ['0.9', '1.0.dev0', '1.0a1.dev1', '1.0a1', '1.0b2', '1.0rc1', '1.0', '1.0+local.1', '1.0+local.2', '1.0.post1.dev0', '1.0.post1', '1.0.1', '1.1', '1!0.1'];
    const shuffled = [...ordered].reverse();
    expect(shuffled.sort(compareVersions)).toEqual(ordered);
    expect(compareVersions('1.0', '1.0.0')).toBe(0);
    expect(compareVersions('nonsense', '0.0.1')).toBe(-1);
  });

  it('knows pre-releases', () => {
    expect(isPrerelease('1.0a1')).toBe(true);
    expect(isPrerelease('1.0.dev3')).toBe(true);
    expect(isPrerelease('1.0.post1')).toBe(false);
  });
});
