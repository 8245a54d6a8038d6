import { describe, expect, it } from 'vitest';
import { filenameMatches, parseDistributionFilename } from './filenames.js';
import { normalizeName, validateProjectName } from './names.js';

describe('project names', () => {
  it('normalizes per PEP 503 and validates per PEP 508', () => {
    expect(normalizeName('Foo.Bar__baz--Qux')).toBe('foo-bar-baz-qux');
    expect(validateProjectName('requests')).toBe('requests');
    for (const bad of ['', '-lead', 'trail.', 'a/b', '..', 'a b', 'x'.repeat(201), 'naïve']) expect(() => validateProjectName(bad), bad).toThrow(/Invalid project name/);
  });
});

describe('distribution filenames', () => {
  it('takes wheels apart, build tags included', () => {
    expect(parseDistributionFilename('rc_demo_app-1.0.0-py3-none-any.whl')).toMatchObject({ kind: 'wheel', name: 'rc_demo_app', normalizedName: 'rc-demo-app', version: '1.0.0', tags: { python: 'py3', abi: 'none', platform: 'any' } });
    expect(parseDistributionFilename('numpy-1.26.4-1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl').tags).toMatchObject({ build: '1', python: 'cp311' });
  });

  it('takes sdists apart, legacy names with dashes included', () => {
    expect(parseDistributionFilename('rc-demo-app-1.0.0.tar.gz')).toMatchObject({ kind: 'sdist', normalizedName: 'rc-demo-app', version: '1.0.0', extension: '.tar.gz' });
    expect(parseDistributionFilename('Foo-Bar-2.0rc1.zip')).toMatchObject({ normalizedName: 'foo-bar', version: '2.0rc1', extension: '.zip' });
    expect(parseDistributionFilename('foo_bar-1.0.post1.tar.gz')).toMatchObject({ normalizedName: 'foo-bar', version: '1.0.post1' });
  });

  it('refuses traversal, paths, control characters, odd extensions and bad tags', () => {
    const bad = ['../evil-1.0.tar.gz', 'a/b-1.0.tar.gz', 'a\\b-1.0.tar.gz', 'evil-1.0.tar.gz\u0000.whl', '.hidden-1.0.tar.gz', 'pkg-1.0.exe', 'pkg-1.0.egg', 'pkg.whl', 'pkg-1.0-py3-none.whl', 'pkg-notaversion-py3-none-any.whl', 'pkg-1.0-x-py3-none-any.whl', 'pkg-1.0-py3-no ne-any.whl', `${'a'.repeat(260)}-1.0.tar.gz`, 'nover.tar.gz'];
    for (const name of bad) expect(() => parseDistributionFilename(name), name).toThrow(/Invalid distribution filename/);
  });

  it('matches a filename to a project and version, normalized', () => {
    expect(filenameMatches('Rc_Demo.App-1.0-py3-none-any.whl', 'rc-demo-app', '1.0.0')).toBe(true);
    expect(filenameMatches('rc_demo_app-1.0.1-py3-none-any.whl', 'rc-demo-app', '1.0.0')).toBe(false);
    expect(filenameMatches('other-1.0.tar.gz', 'rc-demo-app', '1.0')).toBe(false);
  });
});
