import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { isRegistryError } from '@registry-core/api';
import { inspectTarball } from './tarball.js';
import { makeTgz, packageTgz, type TarEntry } from './testing/tarballs.js';

const manifest = { name: 'p', version: '1.0.0' };
const inspect = (bytes: Buffer, max = 1e9) => inspectTarball(Readable.from([bytes]), { maxUnpackedBytes: max });
const refusal = async (bytes: Buffer, max?: number) => {
  const error = await inspect(bytes, max).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isRegistryError(error), String(error)).toBe(true);
  return error as { status: number; message: string };
};

describe('inspectTarball', () => {
  it('reads package.json, counts files and bytes, notices binding.gyp', async () => {
    const json = JSON.stringify(manifest);
    const facts = await inspect(await makeTgz([{ name: 'package/', type: 'directory' }, { name: 'package/package.json', content: json }, { name: 'package/binding.gyp', content: '{}' }]));
    expect(facts).toEqual({ manifest, fileCount: 2, unpackedSize: json.length + 2, hasBindingGyp: true });
  });

  it('accepts any single top folder and ./ prefixes, as npm does', async () => {
    expect(await inspect(await makeTgz([{ name: 'node/package.json', content: '{"name":"x"}' }]))).toMatchObject({ manifest: { name: 'x' }, fileCount: 1 });
    expect(await inspect(await makeTgz([{ name: './package/package.json', content: '{}' }]))).toMatchObject({ fileCount: 1 });
  });

  it.each<[string, TarEntry, RegExp]>([
    ['a symlink', { name: 'package/link', type: 'symlink', linkname: '/etc/passwd' }, /symlink/],
    ['a hard link', { name: 'package/hard', type: 'link', linkname: 'package/package.json' }, /link/],
    ['a character device', { name: 'package/tty', type: 'character-device' }, /character-device/],
    ['a block device', { name: 'package/disk', type: 'block-device' }, /block-device/],
    ['a fifo', { name: 'package/pipe', type: 'fifo' }, /fifo/],
    ['an absolute path', { name: '/etc/cron.d/evil', content: 'x' }, /absolute/],
    ['a Windows absolute path', { name: 'C:/evil', content: 'x' }, /absolute/],
    ['a ../ escape', { name: 'package/../evil', content: 'x' }, /\.\./],
    ['a leading ../', { name: '../evil', content: 'x' }, /\.\./],
    ['a backslash', { name: 'package\\..\\evil', content: 'x' }, /backslash/],
    ['a second top folder', { name: 'other/x', content: 'x' }, /outside the package folder/],
    ['a file at the top', { name: 'loose.js', content: 'x' }, /outside the package folder|not inside/],
    ['a second package.json', { name: 'package/package.json', content: '{"name":"evil"}' }, /twice/],
    ['a package.json differing in case', { name: 'package/PACKAGE.JSON', content: '{}' }, /twice/],
  ])('refuses %s', async (_label, entry, message) => {
    const error = await refusal(await packageTgz(manifest, [entry]));
    expect(error.status).toBe(400);
    expect(error.message).toMatch(message);
  });

  it('refuses a tarball without a package.json, or with a broken one', async () => {
    expect((await refusal(await makeTgz([{ name: 'package/index.js', content: '' }]))).message).toMatch(/no package\.json/);
    expect((await refusal(await makeTgz([{ name: 'package/package.json', content: '{nope' }]))).message).toMatch(/not valid JSON/);
    expect((await refusal(await makeTgz([{ name: 'package/package.json', content: '[1]' }]))).message).toMatch(/not an object/);
    expect((await refusal(await makeTgz([{ name: 'package/package.json', content: ' '.repeat(1024 * 1024 + 1) }]))).message).toMatch(/too large/);
  });

  it('refuses what is not a gzip tarball', async () => {
    expect((await refusal(Buffer.from('plain text'))).message).toMatch(/not a gzip-compressed tarball/);
    expect((await refusal(gzipSync(Buffer.from('gzip, but no tar inside')))).status).toBe(400);
    expect((await refusal(gzipSync(Buffer.alloc(0)))).status).toBe(400);
    const truncated = await packageTgz(manifest);
    expect((await refusal(truncated.subarray(0, truncated.length - 20))).status).toBe(400);
  });

  it('stops a decompression bomb at the unpacked limit', async () => {
    const bomb = await packageTgz(manifest, [{ name: 'package/zeros', content: Buffer.alloc(200_000) }]);
    expect(bomb.length).toBeLessThan(2_000);
    expect((await refusal(bomb, 100_000)).message).toMatch(/larger than 100000 bytes unpacked/);
  });
});
