import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createModuleZip } from './module-zip-create.js';
import { checkModuleZip } from './module-zip.js';

const root = mkdtempSync(path.join(tmpdir(), 'rc-go-create-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
function folder(files: Record<string, string>): string {
  const dir = path.join(root, `m${n++}`);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

describe('module zips from a folder', () => {
  it('makes the zip the go command would: what it leaves out is said, and the result passes the hosted checks', async () => {
    const dir = folder({
      'go.mod': 'module example.com/m\n\ngo 1.19\n',
      'm.go': 'package m\n',
      'internal/x/x.go': 'package x\n',
      'vendor/modules.txt': '# vendored\n',
      'vendor/example.org/y/y.go': 'package y\n',
      '.git/HEAD': 'ref\n',
      'nested/go.mod': 'module example.com/m/nested\n',
      'nested/n.go': 'package nested\n',
    });
    symlinkSync(path.join(dir, 'm.go'), path.join(dir, 'link.go'));
    const out = path.join(root, `${n++}.zip`);
    const made = await createModuleZip(dir, 'v1.2.3', out);
    expect(made.module).toBe('example.com/m');
    expect(made.files).toBe(4);
    expect(made.omitted).toEqual(['.git/ (version control)', 'link.go (not a regular file)', 'nested/ (a nested module)', 'vendor/example.org/y/y.go (a vendored package)']);
    const checked = await checkModuleZip(out, 'example.com/m', 'v1.2.3');
    expect(checked.files).toBe(4);
    expect(checked.goMod.toString()).toBe('module example.com/m\n\ngo 1.19\n');
  });

  it('refuses case-fold collisions, a version the path does not take, and a folder without go.mod unless the module is named', async () => {
    await expect(createModuleZip(folder({ 'go.mod': 'module example.com/c\n', 'a.go': '', 'A.go': '' }), 'v1.0.0', path.join(root, `${n++}.zip`))).rejects.toMatchObject({ status: 400, message: /differ only in case/ });
    await expect(createModuleZip(folder({ 'go.mod': 'module example.com/c\n' }), 'v2.0.0', path.join(root, `${n++}.zip`))).rejects.toMatchObject({ status: 400, message: /\/v2/ });
    const bare = folder({ 'b.go': 'package b\n' });
    await expect(createModuleZip(bare, 'v1.0.0', path.join(root, `${n++}.zip`))).rejects.toMatchObject({ status: 400, message: /no go.mod/ });
    const out = path.join(root, `${n++}.zip`);
    expect((await createModuleZip(bare, 'v1.0.0', out, { module: 'example.com/b' })).module).toBe('example.com/b');
    expect((await checkModuleZip(out, 'example.com/b', 'v1.0.0')).hasGoMod).toBe(false);
  });
});
