import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { storedZip } from '@registry-core/testing';
import { checkModuleZip, goModHash, goModModulePath, hash1, hashZipFile, isVendoredPackage } from './module-zip.js';

const dir = mkdtempSync(path.join(tmpdir(), 'rc-go-zip-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function zipFile(entries: [string, string][], mode?: number): string {
  let bytes = storedZip(entries.map(([name, text]) => [name, Buffer.from(text)]));
  if (mode !== undefined) {
    // Rewrite the first central directory entry's external attributes (a symbolic link, say).
    const at = bytes.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    bytes = Buffer.from(bytes);
    bytes.writeUInt32LE((mode << 16) >>> 0, at + 38);
  }
  const file = path.join(dir, `${n++}.zip`);
  writeFileSync(file, bytes);
  return file;
}

const M = 'example.com/m';
const P = `${M}@v1.0.0/`;
const goMod = [`${P}go.mod`, `module ${M}\n\ngo 1.19\n`] as [string, string];

describe('module zips', () => {
  it('hashes as dirhash.Hash1 does (the h1: of go.sum)', () => {
    // The go.sum line every module depending on golang.org/x/text v0.3.0 carries (that version
    // has no go.mod: the proxy's synthesised one is hashed).
    expect(goModHash('module golang.org/x/text\n')).toBe('h1:NqM8EUOU14njkJ3fqMW+pc6Ldnwhi/IjpwHt7yyuwOQ=');
    // Files are hashed in name order whatever order they come in.
    const files = [{ name: 'b', sha256: '1'.repeat(64) }, { name: 'a', sha256: '2'.repeat(64) }];
    expect(hash1(files)).toBe(hash1([...files].reverse()));
  });

  it('hashes a downloaded zip as dirhash.HashZip does: every entry, no rule checked', async () => {
    const valid = zipFile([[P, ''], goMod, [`${P}a.go`, 'package m\n']]);
    expect(await hashZipFile(valid)).toBe((await checkModuleZip(valid, M, 'v1.0.0')).h1);
    const vendored = zipFile([goMod, [`${P}vendor/x.org/y/y.go`, 'package y\n']]);
    await expect(checkModuleZip(vendored, M, 'v1.0.0')).rejects.toThrow(/vendored/);
    expect(await hashZipFile(vendored)).toMatch(/^h1:/);
    await expect(hashZipFile(path.join(dir, 'missing.zip'))).rejects.toThrow(/not a readable zip/);
  });

  it('reads the module directive of a go.mod', () => {
    expect(goModModulePath('// c\nmodule example.com/m // here\n\ngo 1.19\n')).toBe('example.com/m');
    expect(goModModulePath('module "example.com/q"\n')).toBe('example.com/q');
    expect(goModModulePath('go 1.19\n')).toBeUndefined();
  });

  it('tells vendored packages as golang.org/x/mod/zip does', () => {
    expect(isVendoredPackage('vendor/x.org/y/y.go')).toBe(true);
    expect(isVendoredPackage('vendor/modules.txt')).toBe(false);
    expect(isVendoredPackage('a/vendor/x.go')).toBe(true);
    expect(isVendoredPackage('vendored/x.go')).toBe(false);
    expect(isVendoredPackage('m.go')).toBe(false);
  });

  it('accepts a module zip and derives its go.mod and hashes', async () => {
    const checked = await checkModuleZip(zipFile([goMod, [`${P}m.go`, 'package m\n']]), M, 'v1.0.0');
    expect(checked.hasGoMod).toBe(true);
    expect(checked.goMod.toString()).toBe(goMod[1]);
    expect(checked.goModH1).toBe(goModHash(goMod[1]));
    expect(checked.files).toBe(2);
  });

  it('passes over directory entries (zips made with zip -r), hashing them as dirhash.HashZip does', async () => {
    const withDirs = await checkModuleZip(zipFile([[P, ''], goMod, [`${P}sub/`, ''], [`${P}sub/s.go`, 'package sub\n']]), M, 'v1.0.0');
    const without = await checkModuleZip(zipFile([goMod, [`${P}sub/s.go`, 'package sub\n']]), M, 'v1.0.0');
    expect(withDirs.files).toBe(4);
    expect(withDirs.h1).not.toBe(without.h1);
  });

  it('synthesises the go.mod of a module without one', async () => {
    const checked = await checkModuleZip(zipFile([[`${M}@v2.0.0+incompatible/m.go`, 'package m\n']]), M, 'v2.0.0+incompatible');
    expect(checked.goMod.toString()).toBe(`module ${M}\n`);
  });

  const refused: [string, [string, string][], RegExp, number?][] = [
    ['dot-dot', [goMod, [`${P}../x.go`, 'x']], /empty, "\." or "\.\."/],
    ['an absolute path', [goMod, ['/etc/passwd', 'x']], /is not under/],
    ['another prefix', [[`${M}@v1.0.1/go.mod`, `module ${M}\n`]], /is not under example\.com\/m@v1\.0\.0\//],
    ['a go.mod naming another module', [[`${P}go.mod`, 'module example.com/other\n']], /names the module "example\.com\/other"/],
    ['a go.mod without module directive', [[`${P}go.mod`, 'go 1.19\n']], /no module directive/],
    ['a case-fold collision', [goMod, [`${P}a.go`, 'a'], [`${P}A.go`, 'a']], /differ only in case/],
    ['a duplicate', [goMod, [`${P}a.go`, 'a'], [`${P}a.go`, 'a']], /twice/],
    ['a vendored package', [goMod, [`${P}vendor/x.org/y/y.go`, 'y']], /vendored/],
    ['a nested module', [goMod, [`${P}sub/go.mod`, 'module example.com/m/sub\n']], /nested module/],
    ['a nested module with an upper-case GO.MOD', [goMod, [`${P}sub/GO.MOD`, 'module example.com/m/sub\n']], /nested module/],
    ['an upper-case GO.MOD', [[`${P}GO.MOD`, `module ${M}\n`]], /lower case/],
    ['a nested vendored package', [goMod, [`${P}a/vendor/x.org/y.go`, 'y']], /vendored/],
    ['a directory entry with content', [goMod, [`${P}dir/`, 'x']], /directory entry .* has content/],
    ['a directory entry with dot-dot', [goMod, [`${P}../`, '']], /empty, "\." or "\.\."/],
    ['a backslash', [goMod, [`${P}a\\b.go`, 'a']], /character/],
  ];
  for (const [label, entries, message] of refused) {
    it(`refuses a zip with ${label}`, async () => {
      await expect(checkModuleZip(zipFile(entries), M, 'v1.0.0')).rejects.toMatchObject({ status: 400, message });
    });
  }

  it('refuses symbolic links, +incompatible with a go.mod, and what is not a zip', async () => {
    await expect(checkModuleZip(zipFile([goMod], 0o120777), M, 'v1.0.0')).rejects.toMatchObject({ status: 400, message: /not a regular file/ });
    await expect(checkModuleZip(zipFile([[`${M}@v2.0.0+incompatible/go.mod`, `module ${M}\n`]]), M, 'v2.0.0+incompatible')).rejects.toMatchObject({ status: 400, message: /\+incompatible/ });
    const file = path.join(dir, 'junk.zip');
    writeFileSync(file, 'not a zip');
    await expect(checkModuleZip(file, M, 'v1.0.0')).rejects.toMatchObject({ status: 400, message: /not a readable zip/ });
  });
});
