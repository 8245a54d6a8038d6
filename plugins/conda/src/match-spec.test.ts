import { describe, expect, it } from 'vitest';
import { compareVersions, parseMatchSpec } from './match-spec.js';

describe('conda VersionOrder', () => {
  it("orders conda's documented sequence", () => {
    // From conda's VersionOrder documentation (the cases within the supported rules).
    const ordered = ['0.4', '0.4.1.rc', '0.4.1', '0.4.2', '0.5a1', '0.5b3', '0.5', '0.9.6', '0.960923', '1.0', '1.1dev1', '1.1a1', '1.1.0dev1', '1.1.0rc1', '1.1.0', '1.1.0post1', '1.1post1', '1996.07.12', '1!0.4.1', '1!3.1.1.6', '2!0.4.1'];
    for (let i = 1; i < ordered.length; i++) expect(compareVersions(ordered[i - 1]!, ordered[i]!), `${ordered[i - 1]} < ${ordered[i]}`).toBeLessThan(0);
    expect(compareVersions('1.1', '1.1.0')).toBe(0);
    expect(compareVersions('1.10', '1.9')).toBeGreaterThan(0);
    expect(compareVersions('1.0+local.2', '1.0+local.1')).toBeGreaterThan(0);
  });
});

describe('mirror MatchSpec subset', () => {
  const rec = (name: string, version: string, build = 'py_0') => ({ name, version, build });
  const cases: [string, [string, string, string?][], [string, string, string?][]][] = [
    ['numpy', [['numpy', '1.0'], ['numpy', '2.0']], [['numpy-base', '1.0']]],
    ['numpy>=1.26', [['numpy', '1.26.0'], ['numpy', '2.1']], [['numpy', '1.25.9'], ['numpy', '1.26.0rc1']]],
    ['numpy >=1.26,<2', [['numpy', '1.26.4']], [['numpy', '2.0'], ['numpy', '1.9']]],
    ['numpy >= 1.26', [['numpy', '1.26']], [['numpy', '1.2']]],
    ['numpy=1.26', [['numpy', '1.26'], ['numpy', '1.26.4']], [['numpy', '1.260'], ['numpy', '1.27']]],
    ['numpy==1.26', [['numpy', '1.26'], ['numpy', '1.26.0']], [['numpy', '1.26.4']]],
    ['numpy 1.26.*', [['numpy', '1.26.3']], [['numpy', '1.25']]],
    ['numpy 1.26', [['numpy', '1.26.0']], [['numpy', '1.26.1']]],
    ['numpy 1.26.* py312*', [['numpy', '1.26.1', 'py312h1_0']], [['numpy', '1.26.1', 'py311h1_0']]],
    ['numpy=1.26=py312*', [['numpy', '1.26.1', 'py312h1_0']], [['numpy', '1.26.1', 'py311h1_0']]],
    ['numpy 1.25|>=2', [['numpy', '1.25'], ['numpy', '2.0']], [['numpy', '1.26']]],
    ['numpy !=1.26.1', [['numpy', '1.26.0']], [['numpy', '1.26.1']]],
    ['numpy ~=1.26.2', [['numpy', '1.26.5']], [['numpy', '1.26.1'], ['numpy', '1.27']]],
    ['numpy * *_1', [['numpy', '1.0', 'py_1']], [['numpy', '1.0', 'py_0']]],
  ];
  for (const [spec, yes, no] of cases) {
    it(spec, () => {
      const parsed = parseMatchSpec(spec);
      for (const [n, v, b] of yes) expect(parsed.matches(rec(n, v, b)), `${spec} matches ${n} ${v} ${b ?? ''}`).toBe(true);
      for (const [n, v, b] of no) expect(parsed.matches(rec(n, v, b)), `${spec} does not match ${n} ${v} ${b ?? ''}`).toBe(false);
    });
  }

  it('refuses what it does not implement rather than misreading it', () => {
    for (const spec of ['conda-forge::numpy', 'numpy[version=">=1"]', 'num*', 'numpy >=1.*', 'numpy >>1']) expect(() => parseMatchSpec(spec), spec).toThrow();
  });
});
