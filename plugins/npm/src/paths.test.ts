import { describe, expect, it } from 'vitest';
import { checkEncodedSlashes, isTarballFileName, parseNpmPath } from './paths.js';
import { statusOf } from './testing/assertions.js';

describe('parseNpmPath', () => {
  it.each([
    [['left-pad'], { kind: 'packument', name: { name: 'left-pad' } }],
    [['@acme/util'], { kind: 'packument', name: { name: '@acme/util', scope: 'acme', base: 'util' } }],
    [['@acme', 'util'], { kind: 'packument', name: { name: '@acme/util' } }],
    [['JSONStream'], { kind: 'packument', name: { name: 'JSONStream' } }],
    [['left-pad', 'latest'], { kind: 'version', spec: 'latest' }],
    [['left-pad', '^1.0.0'], { kind: 'version', spec: '^1.0.0' }],
    [['@acme', 'util', '1.0.0'], { kind: 'version', name: { name: '@acme/util' }, spec: '1.0.0' }],
    [['@acme/util', '1.0.0'], { kind: 'version', name: { name: '@acme/util' }, spec: '1.0.0' }],
    [['left-pad', '-', 'left-pad-1.0.0.tgz'], { kind: 'tarball', file: 'left-pad-1.0.0.tgz' }],
    [['@acme', 'util', '-', 'util-1.0.0.tgz'], { kind: 'tarball', name: { name: '@acme/util' }, file: 'util-1.0.0.tgz' }],
    [['@acme/util', '-', 'util-1.0.0.tgz'], { kind: 'tarball', name: { name: '@acme/util' }, file: 'util-1.0.0.tgz' }],
    [['@acme', 'util', '-', '@acme', 'util-1.0.0.tgz'], { kind: 'tarball', file: 'util-1.0.0.tgz' }],
    [['left-pad', '-rev', '3-abc'], { kind: 'revision', rev: '3-abc' }],
    [['@acme/util', '-rev', '3-abc'], { kind: 'revision', name: { name: '@acme/util' }, rev: '3-abc' }],
    [['left-pad', '-', 'left-pad-1.0.0.tgz', '-rev', '3-abc'], { kind: 'tarball-revision', file: 'left-pad-1.0.0.tgz', rev: '3-abc' }],
  ] as const)('%j', (segments, expected) => {
    expect(parseNpmPath(segments)).toMatchObject(expected);
  });

  it('answers 404 for shapes that are no npm path', () => {
    expect(statusOf(() => parseNpmPath(['x', '-', '..']))).toBe(404);
    expect(statusOf(() => parseNpmPath(['x', '-', 'evil.sh']))).toBe(404);
    expect(statusOf(() => parseNpmPath(['x', '-', '.hidden.tgz']))).toBe(404);
    expect(statusOf(() => parseNpmPath(['x', 'a', 'b', 'c', 'd']))).toBe(404);
    expect(statusOf(() => parseNpmPath(['x', '', 'y']))).toBe(404);
    expect(statusOf(() => parseNpmPath([]))).toBe(404);
    expect(statusOf(() => parseNpmPath(['@acme']))).toBe(404);
    // a scoped tarball path naming another scope in the file part
    expect(statusOf(() => parseNpmPath(['@acme', 'util', '-', '@other', 'util-1.0.0.tgz']))).toBe(404);
  });

  it('refuses invalid names with 400', () => {
    expect(statusOf(() => parseNpmPath(['..']))).toBe(400);
    expect(statusOf(() => parseNpmPath(['.git']))).toBe(400);
    expect(statusOf(() => parseNpmPath(['@acme/../etc']))).toBe(400);
    expect(statusOf(() => parseNpmPath(['node_modules', '-', 'x-1.0.0.tgz']))).toBe(400);
  });

  it('refuses an absurdly long version spec', () => {
    expect(statusOf(() => parseNpmPath(['x', '1'.repeat(300)]))).toBe(400);
  });

  it('checks encoded slashes in the raw path', () => {
    expect(parseNpmPath(['@acme/util'], '/@acme%2futil')).toMatchObject({ kind: 'packument' });
    expect(parseNpmPath(['@acme/util'], '/%40acme%2Futil')).toMatchObject({ kind: 'packument' });
    expect(statusOf(() => parseNpmPath(['a/b'], '/a%2fb'))).toBe(400);
    expect(statusOf(() => parseNpmPath(['left-pad', '-/left-pad-1.0.0.tgz'], '/left-pad/-%2fleft-pad-1.0.0.tgz'))).toBe(400);
  });
});

describe('checkEncodedSlashes', () => {
  it('allows an encoded slash only as the scope separator of the first segment', () => {
    expect(statusOf(() => checkEncodedSlashes('/@acme%2futil'))).toBeUndefined();
    expect(statusOf(() => checkEncodedSlashes('/%40acme%2Futil/-/util-1.0.0.tgz'))).toBeUndefined();
    expect(statusOf(() => checkEncodedSlashes('/left-pad'))).toBeUndefined();
    expect(statusOf(() => checkEncodedSlashes('/a%2fb'))).toBe(400);
    expect(statusOf(() => checkEncodedSlashes('/@acme%2f..%2fx'))).toBe(400);
    expect(statusOf(() => checkEncodedSlashes('/@acme/util/-/x%2F..%2Fy.tgz'))).toBe(400);
  });
});

describe('isTarballFileName', () => {
  it('accepts plain .tgz names only', () => {
    expect(isTarballFileName('left-pad-1.3.0.tgz')).toBe(true);
    expect(isTarballFileName('x-1.0.0-rc.1+b.2.tgz')).toBe(true);
    expect(isTarballFileName('x.tgz.exe')).toBe(false);
    expect(isTarballFileName('../x.tgz')).toBe(false);
    expect(isTarballFileName('a/b.tgz')).toBe(false);
    expect(isTarballFileName('.tgz')).toBe(false);
    expect(isTarballFileName('a b.tgz')).toBe(false);
    expect(isTarballFileName(`${'a'.repeat(400)}.tgz`)).toBe(false);
  });
});
