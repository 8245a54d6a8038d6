import { describe, expect, it } from 'vitest';
import type { PackageDocument } from './package-document.js';
import { hitOf, mergeResults } from './search.js';

const doc: PackageDocument = {
  id: 'Rc.Demo',
  versions: {
    '1.0.0': { version: '1.0.0', listed: true },
    '1.5.0': { version: '1.5.0', listed: false },
    '2.0.0-beta': { version: '2.0.0-beta', listed: true },
    '2.0.0-beta.1': { version: '2.0.0-beta.1', listed: true },
    '2.0.0': { version: '2.0.0+build.7', listed: true },
  },
};

describe('search visibility', () => {
  it('hides unlisted versions, prereleases unless asked, and SemVer 2.0.0 versions from clients without semVerLevel=2.0.0', () => {
    expect(hitOf(doc, { prerelease: false, semVer2: false })?.versions.map((v) => v.version)).toEqual(['1.0.0']);
    expect(hitOf(doc, { prerelease: true, semVer2: false })?.versions.map((v) => v.version)).toEqual(['1.0.0', '2.0.0-beta']);
    const all = hitOf(doc, { prerelease: true, semVer2: true });
    expect(all?.versions.map((v) => v.version)).toEqual(['1.0.0', '2.0.0-beta', '2.0.0-beta.1', '2.0.0+build.7']);
    expect(all?.version).toBe('2.0.0+build.7');
  });

  it('merges members by id, the first member winning', () => {
    const a = hitOf(doc, { prerelease: false, semVer2: false })!;
    const b = { ...a, id: 'RC.DEMO', version: '9.0.0' };
    const other = { ...a, id: 'Rc.Other' };
    expect(mergeResults([{ totalHits: 1, data: [a] }, { totalHits: 2, data: [b, other] }])).toEqual({ totalHits: 2, data: [a, other] });
  });
});
