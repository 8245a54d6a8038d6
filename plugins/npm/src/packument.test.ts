import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { parseName } from './names.js';
import {
  abbreviate,
  highestVersion,
  maxSatisfyingYielding,
  mergePackuments,
  originalTarball,
  rewriteTarballs,
  sanitizeUpstreamPackument,
  servedTarballFile,
  wantsAbbreviated,
  withEnvironment,
  type Packument,
} from './packument.js';
import { rejectionOf } from './testing/assertions.js';

const UPSTREAM = 'https://upstream.invalid/';

function doc(name: string, versions: string[], tags: Record<string, string>, extra: Partial<Packument> = {}): Packument {
  return {
    name,
    'dist-tags': tags,
    versions: Object.fromEntries(
      versions.map((v) => [
        v,
        {
          name,
          version: v,
          description: 'd',
          readme: 'a long readme',
          scripts: { test: 'vitest' },
          dependencies: { dep: '^1.0.0' },
          engines: { node: '>=20' },
          dist: { tarball: `${UPSTREAM}${name}/-/${name.split('/').pop()}-${v}.tgz`, integrity: 'sha512-AA==', shasum: 'ab'.repeat(20) },
        },
      ]),
    ),
    time: { created: '2020-01-01T00:00:00.000Z', modified: '2024-01-01T00:00:00.000Z' },
    ...extra,
  };
}

describe('wantsAbbreviated', () => {
  it('recognises the installers\' Accept header', () => {
    expect(wantsAbbreviated('application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*')).toBe(true);
    expect(wantsAbbreviated('application/vnd.npm.install-v1+json')).toBe(true);
    expect(wantsAbbreviated('application/json')).toBe(false);
    expect(wantsAbbreviated('*/*')).toBe(false);
    expect(wantsAbbreviated(undefined)).toBe(false);
    expect(wantsAbbreviated('application/vnd.npm.install-v1+json;q=0')).toBe(false);
  });
});

describe('abbreviate', () => {
  it('keeps the install fields only, flags install scripts, keeps deprecation', async () => {
    const full = doc('a', ['1.0.0', '2.0.0'], { latest: '2.0.0' });
    full.versions['1.0.0']!['scripts'] = { postinstall: 'node setup.js' };
    full.versions['2.0.0']!.deprecated = 'use b';
    full.versions['2.0.0']!['peerDependenciesMeta'] = { p: { optional: true } };
    const small = await abbreviate(full);
    expect(Object.keys(small).sort()).toEqual(['dist-tags', 'modified', 'name', 'versions']);
    expect(small.modified).toBe('2024-01-01T00:00:00.000Z');
    expect(small.versions['1.0.0']).toEqual({
      name: 'a',
      version: '1.0.0',
      dependencies: { dep: '^1.0.0' },
      engines: { node: '>=20' },
      hasInstallScript: true,
      dist: full.versions['1.0.0']!.dist,
    });
    expect(small.versions['2.0.0']).toMatchObject({ deprecated: 'use b', peerDependenciesMeta: { p: { optional: true } } });
    expect(small.versions['2.0.0']).not.toHaveProperty('hasInstallScript');
    expect(small.versions['2.0.0']).not.toHaveProperty('readme');
    expect(small.versions['2.0.0']).not.toHaveProperty('scripts');
  });

  it.each(['preinstall', 'install', 'postinstall'])('flags a %s script', async (script) => {
    const full = doc('a', ['1.0.0'], { latest: '1.0.0' });
    full.versions['1.0.0']!['scripts'] = { [script]: 'x' };
    expect((await abbreviate(full)).versions['1.0.0']!['hasInstallScript']).toBe(true);
  });

  it('does not change the full document', async () => {
    const full = doc('a', ['1.0.0'], { latest: '1.0.0' });
    const before = JSON.stringify(full);
    await abbreviate(full);
    expect(JSON.stringify(full)).toBe(before);
  });
});

describe('tarball URLs', () => {
  it('rewrites every version to <base><name>/-/<file>, remembering the original', async () => {
    const d = doc('@s/a', ['1.0.0', '2.0.0'], { latest: '2.0.0' });
    await rewriteTarballs(d, 'http://host/npm/', parseName('@s/a'));
    expect(d.versions['1.0.0']!.dist.tarball).toBe('http://host/npm/@s/a/-/a-1.0.0.tgz');
    expect(d.versions['2.0.0']!.dist.tarball).toBe('http://host/npm/@s/a/-/a-2.0.0.tgz');
    expect(originalTarball(d.versions['1.0.0']!)).toBe(`${UPSTREAM}@s/a/-/a-1.0.0.tgz`);
    expect(d.versions['1.0.0']!.dist.integrity).toBe('sha512-AA==');
  });

  it('uses the requested name, not the one the document claims', async () => {
    const d = doc('a', ['1.0.0'], { latest: '1.0.0' });
    d.name = '../../evil';
    await rewriteTarballs(d, 'http://host/npm/', parseName('a'));
    expect(d.versions['1.0.0']!.dist.tarball).toBe('http://host/npm/a/-/a-1.0.0.tgz');
  });

  it('keeps an unusual upstream file name, but never a path trick', () => {
    const d = doc('a', ['1.0.0', '2.0.0'], { latest: '1.0.0' });
    d.versions['1.0.0']!.dist.tarball = `${UPSTREAM}a/-/a-legacy-name.tgz`;
    d.versions['2.0.0']!.dist.tarball = `${UPSTREAM}a/-/..%2f..%2fsecret.tgz`;
    const name = parseName('a');
    expect(servedTarballFile(name, d.versions['1.0.0']!)).toBe('a-legacy-name.tgz');
    expect(servedTarballFile(name, d.versions['2.0.0']!)).toBe('a-2.0.0.tgz');
  });
});

describe('sanitizeUpstreamPackument', () => {
  const name = parseName('a');
  it('refuses what is no package document', async () => {
    expect((await rejectionOf(sanitizeUpstreamPackument([], name))).status).toBe(502);
    expect((await rejectionOf(sanitizeUpstreamPackument({ name: 'a' }, name))).status).toBe(502);
    expect((await rejectionOf(sanitizeUpstreamPackument({ versions: 'x' }, name))).status).toBe(502);
  });

  it('drops broken versions and tags', async () => {
    const raw = {
      versions: { '1.0.0': { dist: { tarball: 'x' } }, '2.0.0': null, 'not-a-version': { dist: {} }, '3.0.0': { version: '3.0.0' } },
      'dist-tags': { latest: '2.0.0', stable: '1.0.0', odd: 42 },
      time: 'yesterday',
    };
    const clean = await sanitizeUpstreamPackument(raw, name);
    expect(Object.keys(clean.versions)).toEqual(['1.0.0']);
    expect(clean.versions['1.0.0']!.version).toBe('1.0.0');
    expect(clean['dist-tags']).toEqual({ stable: '1.0.0' });
    expect(clean.time).toBeUndefined();
    expect(clean.name).toBe('a');
  });
});

describe('withEnvironment', () => {
  const d = doc('a', ['1.0.0', '2.0.0-rc.1'], { latest: '1.0.0', staging: '2.0.0-rc.1', broken: '9.9.9' });
  it('points latest at the environment tag', () => {
    const staged = withEnvironment(d, 'staging');
    expect(staged['dist-tags']['latest']).toBe('2.0.0-rc.1');
    expect(staged['dist-tags']['staging']).toBe('2.0.0-rc.1');
    expect(d['dist-tags']['latest']).toBe('1.0.0');
  });
  it('changes nothing for no, an unknown or a dangling tag', () => {
    expect(withEnvironment(d, undefined)).toBe(d);
    expect(withEnvironment(d, 'nope')).toBe(d);
    expect(withEnvironment(d, 'broken')).toBe(d);
    expect(withEnvironment(d, '__proto__')).toBe(d);
    expect(withEnvironment(d, 'constructor')).toBe(d);
  });
});

describe('maxSatisfyingYielding', () => {
  it('picks what semver.maxSatisfying picks', async () => {
    const versions = ['1.0.0', '1.2.3', '1.10.0', '2.0.0-beta.1', '2.0.0', '2.1.0-rc.1', '0.9.9', 'junk', '1.2.3-alpha'];
    for (const range of ['^1.0.0', '~1.2.0', '>=2.0.0-beta.0', '*', '2.x', '<1', '>9', '1.2.3 || 0.9.x', '>=2.1.0-rc.0']) {
      expect(await maxSatisfyingYielding(versions, range), range).toBe(semver.maxSatisfying(versions, range) ?? undefined);
    }
    expect(await maxSatisfyingYielding(versions, 'not a range')).toBeUndefined();
    const many = Array.from({ length: 5000 }, (_, i) => `1.${i % 97}.${i}`);
    expect(await maxSatisfyingYielding(many, '^1.5.0')).toBe(semver.maxSatisfying(many, '^1.5.0'));
  });
});

describe('highestVersion', () => {
  it('picks the highest stable version, else the highest', () => {
    expect(highestVersion(['1.0.0', '2.0.0-beta.1', '1.5.0', '1.10.0'])).toBe('1.10.0');
    expect(highestVersion(['2.0.0-beta.1', '2.0.0-alpha'])).toBe('2.0.0-beta.1');
    expect(highestVersion([])).toBeUndefined();
  });
});

describe('group merge', () => {
  it('unions versions (first member wins), takes each tag from the first member having it', async () => {
    const first = doc('a', ['1.0.0'], { latest: '1.0.0' }, { time: { created: '2021-01-01T00:00:00.000Z', modified: '2024-01-01T00:00:00.000Z', '1.0.0': 't1' } });
    first.versions['1.0.0']!.description = 'from the first';
    const second = doc('a', ['1.0.0', '2.0.0'], { latest: '2.0.0', next: '2.0.0' }, { time: { created: '2020-01-01T00:00:00.000Z', modified: '2025-01-01T00:00:00.000Z', '1.0.0': 'other', '2.0.0': 't2' } });
    const merged = (await mergePackuments([first, second]))!;
    expect(Object.keys(merged.versions).sort()).toEqual(['1.0.0', '2.0.0']);
    expect(merged.versions['1.0.0']!.description).toBe('from the first');
    expect(merged['dist-tags']).toEqual({ latest: '1.0.0', next: '2.0.0' });
    expect(merged.time).toEqual({ created: '2020-01-01T00:00:00.000Z', modified: '2025-01-01T00:00:00.000Z', '1.0.0': 't1', '2.0.0': 't2' });
    expect(merged.modified).toBe('2025-01-01T00:00:00.000Z');
  });

  it('skips a member tag that names a version the member does not list', async () => {
    const first = doc('a', ['1.0.0'], { latest: '1.0.0', beta: '3.0.0' });
    const second = doc('a', ['3.0.0'], { latest: '3.0.0', beta: '3.0.0' });
    expect((await mergePackuments([first, second]))!['dist-tags']).toEqual({ latest: '1.0.0', beta: '3.0.0' });
  });

  it('returns one document as it is, none as undefined', async () => {
    const only = doc('a', ['1.0.0'], { latest: '1.0.0' });
    expect(await mergePackuments([only])).toBe(only);
    expect(await mergePackuments([])).toBeUndefined();
  });

  it('does not mutate the members\' documents', async () => {
    const first = doc('a', ['1.0.0'], { latest: '1.0.0' });
    const second = doc('a', ['2.0.0'], { latest: '2.0.0' });
    const before = JSON.stringify([first, second]);
    await mergePackuments([first, second]);
    expect(JSON.stringify([first, second])).toBe(before);
  });
});
