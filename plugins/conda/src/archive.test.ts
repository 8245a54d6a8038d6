import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { storedZip } from '@registry-core/testing';
import { describe, expect, it } from 'vitest';
import { readCondaIndex, readTarBz2Index } from './archive.js';
import { buildCondaPackage, bzip2, tarOf, zstd } from './testing/package-builder.js';

const dir = mkdtempSync(path.join(tmpdir(), 'rc-conda-archive-'));
const write = (name: string, bytes: Buffer | string) => {
  const file = path.join(dir, name);
  writeFileSync(file, bytes);
  return file;
};
const stemOf = (filename: string) => filename.replace(/\.conda$/, '');

describe('conda archives', () => {
  it('reads info/index.json from a .conda and a .tar.bz2', async () => {
    const conda = await buildCondaPackage(dir, { name: 'rc-a', version: '1.0', depends: ['python >=3.8'] });
    expect(await readCondaIndex(conda.path, stemOf(conda.filename))).toMatchObject({ name: 'rc-a', version: '1.0', depends: ['python >=3.8'], subdir: 'noarch' });
    const bz2 = await buildCondaPackage(dir, { name: 'rc-b', version: '2.0', format: 'tar.bz2', files: [{ name: 'lib/libb.so', type: 'symlink', linkname: 'libb.so.2' }, { name: 'lib/libb.so.2', data: 'elf' }] });
    expect(await readTarBz2Index(bz2.path)).toMatchObject({ name: 'rc-b', version: '2.0' });
  });

  // Bad bytes once ended the whole server: the decompressor's error was an 'error' event nobody listened to.
  it('refuses bytes that are not bzip2 or zstd with a 400, without an unhandled error', async () => {
    await expect(readTarBz2Index(write('rc-junk-1.0-0.tar.bz2', 'this is not bzip2'))).rejects.toMatchObject({ status: 400 });
    await expect(readTarBz2Index(write('rc-cut-1.0-0.tar.bz2', bzip2(Buffer.alloc(300_000, 7)).subarray(0, 200)))).rejects.toMatchObject({ status: 400 });
    const junkZst = storedZip([['metadata.json', Buffer.from('{}')], ['info-rc-z-1.0-0.tar.zst', Buffer.from('not zstd at all')]]);
    await expect(readCondaIndex(write('rc-z-1.0-0.conda', junkZst), 'rc-z-1.0-0')).rejects.toMatchObject({ status: 400 });
    await expect(readCondaIndex(write('rc-notzip-1.0-0.conda', 'PK but no zip'), 'rc-notzip-1.0-0')).rejects.toMatchObject({ status: 400 });
  });

  it('refuses ".." and absolute paths, links out of the package, devices and stray zip entries', async () => {
    const refused = async (files: Parameters<typeof buildCondaPackage>[1]['files'], format: 'conda' | 'tar.bz2' = 'conda') => {
      const pkg = await buildCondaPackage(dir, { name: `rc-bad${Math.random().toString(36).slice(2, 8)}`, version: '1.0', format, files });
      const reading = format === 'conda' ? readCondaIndex(pkg.path, stemOf(pkg.filename)) : readTarBz2Index(pkg.path);
      await expect(reading).rejects.toMatchObject({ status: 400 });
    };
    await refused([{ name: '../../etc/evil', data: 'x' }]);
    await refused([{ name: '/etc/evil', data: 'x' }], 'tar.bz2');
    await refused([{ name: 'lib/escape', type: 'symlink', linkname: '../../../etc/passwd' }]);
    await refused([{ name: 'lib/abs', type: 'symlink', linkname: '/etc/passwd' }], 'tar.bz2');
    const stray = storedZip([
      ['metadata.json', Buffer.from('{}')],
      ['info-rc-s-1.0-0.tar.zst', await zstd(await tarOf([{ name: 'info/index.json', data: '{}' }]))],
      ['../evil', Buffer.from('x')],
    ]);
    await expect(readCondaIndex(write('rc-s-1.0-0.conda', stray), 'rc-s-1.0-0')).rejects.toMatchObject({ status: 400 });
    const noPayload = storedZip([['metadata.json', Buffer.from('{}')], ['info-rc-p-1.0-0.tar.zst', await zstd(await tarOf([{ name: 'info/index.json', data: '{}' }]))]]);
    await expect(readCondaIndex(write('rc-p-1.0-0.conda', noPayload), 'rc-p-1.0-0')).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/pkg-rc-p-1.0-0.tar.zst is missing/) });
    const missing = storedZip([['metadata.json', Buffer.from('{}')]]);
    await expect(readCondaIndex(write('rc-m-1.0-0.conda', missing), 'rc-m-1.0-0')).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/info-rc-m-1.0-0.tar.zst is missing/) });
  });

  it('stops a compression bomb while it expands', async () => {
    const bomb = await buildCondaPackage(dir, { name: 'rc-bomb', version: '1.0', files: [{ name: 'share/zeros', data: Buffer.alloc(24 * 1024 * 1024) }] });
    await expect(readCondaIndex(bomb.path, stemOf(bomb.filename), { ratioFloorBytes: 1024 * 1024 })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/bomb/) });
    const capped = await buildCondaPackage(dir, { name: 'rc-big', version: '1.0', format: 'tar.bz2', files: [{ name: 'share/data', data: Buffer.alloc(3 * 1024 * 1024, 1) }] });
    await expect(readTarBz2Index(capped.path, { maxExpandedBytes: 1024 * 1024 })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/expands to more than/) });
  });

  it('runs the checks in a worker thread from the built plugin, with the same answers', async () => {
    // The built module, whose worker file is beside it (the sources have none: they check in this thread).
    const built = (await import(new URL('../dist/archive.js', import.meta.url).href)) as typeof import('./archive.js');
    const conda = await buildCondaPackage(dir, { name: 'rc-w', version: '1.0' });
    expect(await built.readPackageIndex(conda.path, stemOf(conda.filename))).toMatchObject({ name: 'rc-w' });
    const bz2 = await buildCondaPackage(dir, { name: 'rc-wb', version: '1.0', format: 'tar.bz2' });
    expect(await built.readPackageIndex(bz2.path, undefined)).toMatchObject({ name: 'rc-wb' });
    await expect(built.readPackageIndex(write('rc-wj-1.0-0.tar.bz2', 'junk'), undefined)).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/bzip2/) });
    const evil = await buildCondaPackage(dir, { name: 'rc-we', version: '1.0', files: [{ name: '../evil', data: 'x' }] });
    await expect(built.readPackageIndex(evil.path, stemOf(evil.filename))).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/".." segment/) });
  });
});
