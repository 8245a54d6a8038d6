import { describe, expect, it } from 'vitest';
import { encodedName, parseName, tarballFile, tarballPath, tarballVersion } from './names.js';
import { statusOf } from './testing/assertions.js';

describe('parseName', () => {
  it('splits scoped and unscoped names', () => {
    expect(parseName('@acme/util')).toEqual({ name: '@acme/util', scope: 'acme', base: 'util' });
    expect(parseName('left-pad')).toEqual({ name: 'left-pad', scope: undefined, base: 'left-pad' });
  });

  it('reads legacy mixed-case names but refuses them for a publish', () => {
    expect(parseName('JSONStream').base).toBe('JSONStream');
    expect(statusOf(() => parseName('JSONStream', { forPublish: true }))).toBe(400);
    expect(statusOf(() => parseName('@Acme/util', { forPublish: true }))).toBe(400);
    expect(statusOf(() => parseName('jsonstream', { forPublish: true }))).toBeUndefined();
  });

  it.each([
    ['empty', ''],
    ['dot-dot', '..'],
    ['dot-dot inside', 'a..b'],
    ['leading dot', '.hidden'],
    ['leading underscore', '_private'],
    ['scope with leading dot', '@.s/x'],
    ['scope with leading underscore', '@_s/x'],
    ['space', 'a b'],
    ['leading space', ' a'],
    ['tab', 'a\tb'],
    ['slash without scope', 'a/b'],
    ['second slash', '@s/a/b'],
    ['scope without name', '@scope'],
    ['empty scope', '@/x'],
    ['empty name', '@s/'],
    ['too long', 'x'.repeat(215)],
    ['blocked', 'node_modules'],
    ['blocked, other case', 'Favicon.ico'],
    ['encoded slash', 'a%2fb'],
    ['non-ASCII', 'é'],
    ['at sign inside', 'a@b'],
    ['colon', 'a:b'],
    ['backslash', 'a\\b'],
    ['null byte', 'a\u0000b'],
  ])('refuses %s (%j)', (_label, name) => {
    expect(statusOf(() => parseName(name))).toBe(400);
  });

  it('accepts the longest name allowed', () => {
    expect(parseName('x'.repeat(214)).name).toHaveLength(214);
  });

  it("refuses ~'!()* in the base name of new packages only", () => {
    expect(statusOf(() => parseName("it's"))).toBeUndefined();
    expect(statusOf(() => parseName("it's", { forPublish: true }))).toBe(400);
    expect(statusOf(() => parseName('wow!', { forPublish: true }))).toBe(400);
    expect(statusOf(() => parseName('@s/(x)', { forPublish: true }))).toBe(400);
  });

  it('refuses Node core module names for new packages only', () => {
    expect(statusOf(() => parseName('http', { forPublish: true }))).toBe(400);
    expect(statusOf(() => parseName('fs', { forPublish: true }))).toBe(400);
    expect(statusOf(() => parseName('http'))).toBeUndefined();
    expect(statusOf(() => parseName('@acme/http', { forPublish: true }))).toBeUndefined();
  });

  it('names the problem in the error', () => {
    expect(() => parseName('.x')).toThrow(/starts with \. or _/);
    expect(() => parseName('A', { forPublish: true })).toThrow(/lowercase/);
  });
});

describe('tarball names', () => {
  const scoped = parseName('@acme/util');
  const plain = parseName('left-pad');

  it('uses the base name without the scope', () => {
    expect(tarballFile(scoped, '1.0.0')).toBe('util-1.0.0.tgz');
    expect(tarballPath(scoped, 'util-1.0.0.tgz')).toBe('@acme/util/-/util-1.0.0.tgz');
    expect(encodedName(scoped)).toBe('@acme%2futil');
    expect(encodedName(plain)).toBe('left-pad');
  });

  it('reads the version out of a tarball name of npm shape only', () => {
    expect(tarballVersion(plain, 'left-pad-1.3.0.tgz')).toBe('1.3.0');
    expect(tarballVersion(plain, 'left-pad-1.3.0-beta.1.tgz')).toBe('1.3.0-beta.1');
    // npm drops build metadata from versions before publishing; a registry never holds one.
    expect(tarballVersion(plain, 'left-pad-1.3.0+build.5.tgz')).toBeUndefined();
    expect(tarballVersion(scoped, 'util-2.0.0.tgz')).toBe('2.0.0');
    expect(tarballVersion(scoped, '@acme/util-2.0.0.tgz')).toBeUndefined();
    expect(tarballVersion(plain, 'other-1.0.0.tgz')).toBeUndefined();
    expect(tarballVersion(plain, 'left-pad-1.0.tgz')).toBeUndefined();
    expect(tarballVersion(plain, 'left-pad-1.0.0.tar.gz')).toBeUndefined();
    expect(tarballVersion(plain, 'left-pad-v1.0.0.tgz')).toBeUndefined();
  });
});
