import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import tar from 'tar-stream';
import { isRegistryError } from '@registry-core/api';
import { expectedFromDist, sriFromHex } from './integrity.js';
import { checkManifestMatchesTarball } from './manifest-check.js';
import { parseName } from './names.js';
import { abbreviate, withEnvironment, highestVersion, mergePackuments, rewriteTarballs, wantsAbbreviated, type Packument } from './packument.js';
import { checkEncodedSlashes, parseNpmPath } from './paths.js';
import { inspectTarball } from './tarball.js';

function statusOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (error) {
    return isRegistryError(error) ? error.status : -1;
  }
  return undefined;
}

describe('parseName', () => {
  it('splits scoped names', () => {
    expect(parseName('@acme/util')).toEqual({ name: '@acme/util', scope: 'acme', base: 'util' });
    expect(parseName('left-pad')).toEqual({ name: 'left-pad', scope: undefined, base: 'left-pad' });
  });
  it('reads legacy mixed case but refuses it for publish', () => {
    expect(parseName('JSONStream').base).toBe('JSONStream');
    expect(statusOf(() => parseName('JSONStream', { forPublish: true }))).toBe(400);
  });
  it.each(['', '..', 'a..b', '.x', '_x', 'a b', 'a/b', '@scope', '@/x', '@s/', 'x'.repeat(215), 'node_modules', 'a%2fb', 'é'])('refuses %j', (name) => {
    expect(statusOf(() => parseName(name))).toBe(400);
  });
  it("refuses ~'!()* for new packages only", () => {
    expect(statusOf(() => parseName("it's"))).toBeUndefined(); // legacy names may hold them
    expect(statusOf(() => parseName("it's", { forPublish: true }))).toBe(400);
    expect(statusOf(() => parseName('wow!', { forPublish: true }))).toBe(400);
  });
});

describe('parseNpmPath', () => {
  it.each([
    [['left-pad'], { kind: 'packument' }],
    [['@acme/util'], { kind: 'packument' }],
    [['@acme', 'util'], { kind: 'packument' }],
    [['left-pad', 'latest'], { kind: 'version', spec: 'latest' }],
    [['@acme', 'util', '1.0.0'], { kind: 'version', spec: '1.0.0' }],
    [['left-pad', '-', 'left-pad-1.0.0.tgz'], { kind: 'tarball', file: 'left-pad-1.0.0.tgz' }],
    [['@acme', 'util', '-', 'util-1.0.0.tgz'], { kind: 'tarball', file: 'util-1.0.0.tgz' }],
    [['@acme/util', '-', 'util-1.0.0.tgz'], { kind: 'tarball', file: 'util-1.0.0.tgz' }],
    [['left-pad', '-rev', '3-abc'], { kind: 'revision', rev: '3-abc' }],
    [['left-pad', '-', 'left-pad-1.0.0.tgz', '-rev', '3-abc'], { kind: 'tarball-revision', rev: '3-abc' }],
  ] as const)('%j', (segments, expected) => {
    expect(parseNpmPath(segments)).toMatchObject(expected);
  });
  it('refuses tarball names that are not tarballs and unknown shapes', () => {
    expect(statusOf(() => parseNpmPath(['x', '-', '..']))).toBe(404);
    expect(statusOf(() => parseNpmPath(['x', '-', 'evil.sh']))).toBe(404);
    expect(statusOf(() => parseNpmPath(['x', 'a', 'b', 'c', 'd']))).toBe(404);
    expect(statusOf(() => parseNpmPath(['..']))).toBe(400);
  });
  it('allows an encoded slash only as the scope separator', () => {
    expect(statusOf(() => checkEncodedSlashes('/@acme%2futil'))).toBeUndefined();
    expect(statusOf(() => checkEncodedSlashes('/%40acme%2Futil/-/util-1.0.0.tgz'))).toBeUndefined();
    expect(statusOf(() => checkEncodedSlashes('/a%2fb'))).toBe(400);
    expect(statusOf(() => checkEncodedSlashes('/@acme%2f..%2fx'))).toBe(400);
  });
});

describe('integrity', () => {
  it('turns SRI and shasum into hex digests', () => {
    const bytes = Buffer.from('tarball');
    const sha512 = createHash('sha512').update(bytes).digest('hex');
    const sha1 = createHash('sha1').update(bytes).digest('hex');
    expect(expectedFromDist({ integrity: `${sriFromHex(sha512)} sha1-${Buffer.from(sha1, 'hex').toString('base64')}`, shasum: sha1 })).toEqual({ sha512, sha1 });
    expect(expectedFromDist({ shasum: sha1.toUpperCase() })).toEqual({ sha1 });
    expect(expectedFromDist({ integrity: 'md5-xyz', shasum: 'nope' })).toBeUndefined();
  });
});

const doc = (name: string, versions: string[], tags: Record<string, string>, extra: Partial<Packument> = {}): Packument => ({
  name,
  'dist-tags': tags,
  versions: Object.fromEntries(
    versions.map((v) => [v, { name, version: v, scripts: { postinstall: 'x' }, readme: 'long', dist: { tarball: `https://upstream.invalid/${name}/-/${name.split('/').pop()}-${v}.tgz`, integrity: 'sha512-AA==' } }]),
  ),
  time: { modified: '2024-01-01T00:00:00.000Z' },
  ...extra,
});

describe('packuments', () => {
  it('abbreviates to install fields and flags install scripts', () => {
    const small = abbreviate(doc('a', ['1.0.0'], { latest: '1.0.0' }));
    expect(small.versions['1.0.0']).toEqual({ name: 'a', version: '1.0.0', hasInstallScript: true, dist: expect.any(Object) });
    expect(small.modified).toBe('2024-01-01T00:00:00.000Z');
    expect(small.time).toBeUndefined();
  });
  it('rewrites tarball URLs to this registry', () => {
    const d = doc('@s/a', ['1.0.0'], { latest: '1.0.0' });
    rewriteTarballs(d, 'http://host/npm/');
    expect(d.versions['1.0.0']?.dist.tarball).toBe('http://host/npm/@s/a/-/a-1.0.0.tgz');
  });
  it('points latest at an environment tag', () => {
    const d = doc('a', ['1.0.0', '2.0.0'], { latest: '1.0.0', staging: '2.0.0' });
    expect(withEnvironment(d, 'nope')).toBe(d);
    const staged = withEnvironment(d, 'staging');
    expect(staged['dist-tags'].latest).toBe('2.0.0');
    expect(d['dist-tags'].latest).toBe('1.0.0'); // the source is not mutated
  });
  it('merges members: first wins a version and a tag, modified is the latest', () => {
    const merged = mergePackuments([
      doc('a', ['1.0.0'], { latest: '1.0.0' }, { time: { modified: '2024-01-01T00:00:00.000Z', '1.0.0': 't1' } }),
      doc('a', ['1.0.0', '2.0.0'], { latest: '2.0.0', next: '2.0.0' }, { time: { modified: '2025-01-01T00:00:00.000Z', '2.0.0': 't2' } }),
    ])!;
    expect(Object.keys(merged.versions).sort()).toEqual(['1.0.0', '2.0.0']);
    expect(merged['dist-tags']).toEqual({ latest: '1.0.0', next: '2.0.0' });
    expect(merged.time).toMatchObject({ modified: '2025-01-01T00:00:00.000Z', '1.0.0': 't1', '2.0.0': 't2' });
  });
  it('recognises the abbreviated Accept header', () => {
    expect(wantsAbbreviated('application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*')).toBe(true);
    expect(wantsAbbreviated('application/json')).toBe(false);
    expect(wantsAbbreviated('application/vnd.npm.install-v1+json;q=0')).toBe(false);
  });
  it('picks the highest stable version', () => {
    expect(highestVersion(['1.0.0', '2.0.0-beta.1', '1.5.0'])).toBe('1.5.0');
    expect(highestVersion(['2.0.0-beta.1'])).toBe('2.0.0-beta.1');
  });
});

describe('manifest confusion check', () => {
  const check = (published: Record<string, unknown>, packed: Record<string, unknown>, hasBindingGyp = false) =>
    statusOf(() => checkManifestMatchesTarball({ name: 'p', version: '1.0.0', ...published }, { name: 'p', version: '1.0.0', ...packed }, { hasBindingGyp, base: 'p' }));
  it('accepts npm normalisations', () => {
    expect(check({ bin: { p: 'cli.js' } }, { bin: './cli.js' })).toBeUndefined();
    expect(check({ scripts: { install: 'node-gyp rebuild' } }, {}, true)).toBeUndefined();
    expect(check({ dependencies: { a: '1', o: '2' }, optionalDependencies: { o: '2' } }, { dependencies: { a: '1' }, optionalDependencies: { o: '2' } })).toBeUndefined();
  });
  it('refuses real differences', () => {
    expect(check({ dependencies: { a: '1' } }, { dependencies: { a: '2' } })).toBe(400);
    expect(check({}, { scripts: { preinstall: 'x' } })).toBe(400);
    expect(check({ scripts: { install: 'node-gyp rebuild' } }, {}, false)).toBe(400);
    expect(check({ peerDependencies: { r: '1' } }, {})).toBe(400);
  });
});

describe('inspectTarball', () => {
  async function tgz(entries: { name: string; type?: 'file' | 'symlink' | 'directory'; content?: string; linkname?: string }[]) {
    const pack = tar.pack();
    for (const e of entries) pack.entry({ name: e.name, type: e.type ?? 'file', linkname: e.linkname }, e.content ?? '');
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(c as Buffer);
    return gzipSync(Buffer.concat(chunks));
  }
  const inspect = async (buffer: Buffer, max = 1e9) => inspectTarball(Readable.from([buffer]), { maxUnpackedBytes: max }).catch((e: unknown) => e);

  it('reads package.json, counts files and bytes, notices binding.gyp', async () => {
    const facts = await inspect(await tgz([{ name: 'package/package.json', content: '{"name":"p","version":"1.0.0"}' }, { name: 'package/binding.gyp', content: '{}' }]));
    expect(facts).toMatchObject({ manifest: { name: 'p' }, fileCount: 2, unpackedSize: 32, hasBindingGyp: true });
  });
  it('accepts any single top folder', async () => {
    expect(await inspect(await tgz([{ name: 'node/package.json', content: '{}' }]))).toMatchObject({ fileCount: 1 });
  });
  it.each([
    ['symlink', [{ name: 'package/l', type: 'symlink' as const, linkname: '/etc' }]],
    ['absolute', [{ name: '/abs', content: 'x' }]],
    ['dotdot', [{ name: 'package/../x', content: 'x' }]],
    ['two tops', [{ name: 'other/x', content: 'x' }]],
  ])('refuses %s', async (_l, extra) => {
    const result = await inspect(await tgz([{ name: 'package/package.json', content: '{}' }, ...extra]));
    expect(isRegistryError(result) && result.status).toBe(400);
  });
  it('refuses no package.json, not gzip, and a decompression bomb', async () => {
    expect(isRegistryError(await inspect(await tgz([{ name: 'package/index.js', content: '' }])))).toBe(true);
    expect(isRegistryError(await inspect(Buffer.from('plain text')))).toBe(true);
    const bomb = await inspect(await tgz([{ name: 'package/package.json', content: '{}' }, { name: 'package/zeros', content: '0'.repeat(100_000) }]), 50_000);
    expect(isRegistryError(bomb) && bomb.message).toMatch(/larger than/);
  });
});
