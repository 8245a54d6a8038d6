import { describe, expect, it } from 'vitest';
import { compareVersions, isPseudoVersion, latestVersion } from './semver.js';

describe('Go semantic versions', () => {
  it('orders versions as golang.org/x/mod/semver does', () => {
    const sorted = ['v1.10.0', 'v1.2.0', 'v1.2.0-rc.1', 'v1.2.0-beta', 'v1.2.0-rc.10', 'v1.2.0-rc.2', 'v0.0.0-20240101120000-abcdef123456', 'v1.2.0-1', 'v2.0.0+incompatible'].sort(compareVersions);
    expect(sorted).toEqual(['v0.0.0-20240101120000-abcdef123456', 'v1.2.0-1', 'v1.2.0-beta', 'v1.2.0-rc.1', 'v1.2.0-rc.2', 'v1.2.0-rc.10', 'v1.2.0', 'v1.10.0', 'v2.0.0+incompatible']);
  });

  it('recognises pseudo-versions', () => {
    expect(isPseudoVersion('v0.0.0-20240101120000-abcdef123456')).toBe(true);
    expect(isPseudoVersion('v1.2.4-0.20240101120000-abcdef123456')).toBe(true);
    expect(isPseudoVersion('v1.2.3-pre.0.20240101120000-abcdef123456')).toBe(true);
    expect(isPseudoVersion('v1.2.3')).toBe(false);
    expect(isPseudoVersion('v1.2.3-rc.1')).toBe(false);
  });

  it('picks @latest as the go command does: releases, then pre-releases, then pseudo-versions', () => {
    expect(latestVersion(['v1.0.0', 'v1.1.0-rc.1', 'v0.9.0'])).toBe('v1.0.0');
    expect(latestVersion(['v1.1.0-rc.1', 'v1.2.4-0.20240101120000-abcdef123456'])).toBe('v1.1.0-rc.1');
    expect(latestVersion(['v0.0.0-20240101120000-abcdef123456', 'v0.0.0-20250101120000-abcdef123456'])).toBe('v0.0.0-20250101120000-abcdef123456');
    expect(latestVersion(['v2.0.0+incompatible', 'v1.9.0'])).toBe('v2.0.0+incompatible');
    expect(latestVersion([])).toBeUndefined();
  });
});
