import { describe, expect, it } from 'vitest';
import { compareVersions, isSnapshotVersion, sortVersions } from './versions.js';

// Orders from Maven's own ComparableVersionTest: each list is strictly increasing.
const QUALIFIER_ORDER = ['1-alpha2snapshot', '1-alpha2', '1-alpha-123', '1-beta-2', '1-beta123', '1-m2', '1-m11', '1-rc', '1-cr2', '1-rc123', '1-SNAPSHOT', '1', '1-sp', '1-sp2', '1-sp123', '1-abc', '1-def', '1-pom-1', '1-1-snapshot', '1-1', '1-2', '1-123'];
const NUMBER_ORDER = ['2.0', '2.0.a', '2-1', '2.0.2', '2.0.123', '2.1.0', '2.1-a', '2.1b', '2.1-c', '2.1-1', '2.1.0.1', '2.2', '2.123', '11.a2', '11.a11', '11.b2', '11.b11', '11.m2', '11.m11', '11', '11.a', '11b', '11c', '11m'];

function expectIncreasing(versions: readonly string[]): void {
  for (let i = 0; i < versions.length; i++) {
    for (let j = i + 1; j < versions.length; j++) {
      expect(compareVersions(versions[i]!, versions[j]!), `${versions[i]} < ${versions[j]}`).toBeLessThan(0);
      expect(compareVersions(versions[j]!, versions[i]!), `${versions[j]} > ${versions[i]}`).toBeGreaterThan(0);
    }
  }
}

describe('Maven version ordering (ComparableVersion)', () => {
  it('orders qualifiers: alpha < beta < milestone < rc = cr < snapshot < release < sp < others', () => expectIncreasing(QUALIFIER_ORDER));
  it('orders numbers and mixed items', () => expectIncreasing(NUMBER_ORDER));

  it('treats equivalent spellings as equal', () => {
    const same = [
      ['1', '1.0', '1.0.0', '1-0', '1.0-0', '1-ga', '1.ga', '1-final', '1-release', '1.0.0-GA'],
      ['1a1', '1-a1', '1-alpha-1', '1.alpha1', '1-ALPHA1'],
      ['1b2', '1-b2', '1-beta2', '1-beta-2', '1beta-2'],
      ['1cr', '1rc', '1-cr', '1.RC'],
      ['1m3', '1-m3', '1-milestone3', '1-milestone-3'],
      ['1x', '1-x', '1.x'],
    ];
    for (const group of same) for (const a of group) for (const b of group) expect(compareVersions(a, b), `${a} = ${b}`).toBe(0);
  });

  it('sorts what version strings sort wrongly', () => {
    expect(['1.10', '1.9', '1.2-SNAPSHOT', '1.2', '1.2-rc1', '1.2.1'].sort(compareVersions)).toEqual(['1.2-rc1', '1.2-SNAPSHOT', '1.2', '1.2.1', '1.9', '1.10']);
    expect(compareVersions('1.0-20240101.120000-3', '1.0-SNAPSHOT')).toBeGreaterThan(0);
    expect(compareVersions('99999999999999999999.1', '99999999999999999999.0')).toBeGreaterThan(0);
  });

  it('sorts a list as the comparison orders it, parsing each version once', () => {
    const shuffled = [...QUALIFIER_ORDER, ...NUMBER_ORDER].reverse();
    expect(sortVersions(shuffled)).toEqual([...shuffled].sort(compareVersions));
  });

  it('knows SNAPSHOT versions, unique or not', () => {
    expect(isSnapshotVersion('1.0-SNAPSHOT')).toBe(true);
    expect(isSnapshotVersion('1.0-20240101.120000-3')).toBe(true);
    expect(isSnapshotVersion('1.0')).toBe(false);
    expect(isSnapshotVersion('1.0-snapshot-fix')).toBe(false);
  });
});
