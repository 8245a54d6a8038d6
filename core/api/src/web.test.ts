import { describe, expect, it } from 'vitest';
import { boundedPackageView, PACKAGE_VIEW_LIMITS } from './web.js';

describe('boundedPackageView', () => {
  it('keeps a small view as it is', () => {
    const view = { version: '1.0.0', description: 'd', readme: '# r', dependencies: [{ name: 'a', range: '^1', kind: 'runtime' }], tags: { latest: '1.0.0' }, files: [{ path: 'p/a.tgz', name: 'a.tgz' }], facts: { license: 'MIT' } };
    expect(boundedPackageView(view)).toEqual(view);
    expect(boundedPackageView({})).toEqual({});
  });

  it('cuts every string and list a hostile stored file could make large', () => {
    const long = 'x'.repeat(1_000_000);
    const item = 'y'.repeat(3000);
    const many = Array.from({ length: 2000 }, (_, i) => i);
    const view = boundedPackageView({
      version: long,
      description: long,
      readme: long,
      dependencies: many.map((i) => ({ name: `${i}${item}`, range: item, kind: item })),
      tags: Object.fromEntries(many.map((i) => [`${i}${item}`, item])),
      files: many.map((i) => ({ path: `f/${i}`, name: item })),
      facts: Object.fromEntries(many.map((i) => [`${i}`, item])),
    });
    const { text, description, readme, entries } = PACKAGE_VIEW_LIMITS;
    expect(view.version).toHaveLength(text);
    expect(view.description).toHaveLength(description);
    expect(view.description!.endsWith('…')).toBe(true);
    expect(view.readme).toHaveLength(readme);
    expect(view.dependencies).toHaveLength(entries);
    expect(Math.max(...view.dependencies!.flatMap((d) => [d.name.length, d.range.length, d.kind.length]))).toBe(text);
    expect(Object.keys(view.tags!)).toHaveLength(entries);
    expect(view.files).toHaveLength(entries);
    expect(Object.keys(view.facts!)).toHaveLength(entries);
    expect(JSON.stringify(view).length).toBeLessThan(2 * 1024 * 1024);
  });
});
