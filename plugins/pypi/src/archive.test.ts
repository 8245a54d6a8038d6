import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSdistMetadata, readWheelMetadata } from './archive.js';

// Archives are written by Debian's Python (zipfile, tarfile), as build tools write them,
// hostile ones included.
const dir = mkdtempSync(path.join(tmpdir(), 'rc-pypi-archive-'));
const METADATA = 'Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n';
let count = 0;

function python(script: string): string {
  const file = path.join(dir, `a${++count}`);
  writeFileSync(`${file}.py`, `import sys, zipfile, tarfile, io, gzip\nout = sys.argv[1]\n${script}\n`);
  execFileSync('/usr/bin/python3', [`${file}.py`, file]);
  return file;
}

const zipWith = (entries: string) => python(`with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:\n${entries}`);
const tarWith = (entries: string) =>
  python(`def add(t, name, data=b'', kind=tarfile.REGTYPE, link=''):\n    info = tarfile.TarInfo(name); info.size = len(data); info.type = kind; info.linkname = link\n    t.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)\nwith tarfile.open(out, 'w:gz') as t:\n${entries}`);
const expected = { name: 'demo', version: '1.0' };

describe('wheel metadata', () => {
  it('reads the METADATA of the matching .dist-info folder', async () => {
    const wheel = zipWith(`    z.writestr('demo/__init__.py', '')\n    z.writestr('demo-1.0.dist-info/METADATA', ${JSON.stringify(METADATA)})\n    z.writestr('demo-1.0.dist-info/RECORD', '')`);
    expect(await readWheelMetadata(wheel, expected)).toBe(METADATA);
    expect(await readWheelMetadata(wheel, { name: 'Demo', version: '1.0.0' })).toBe(METADATA);
  });

  it('refuses hostile and malformed zips before expanding anything', async () => {
    const cases: [string, RegExp][] = [
      [zipWith(`    z.writestr('../evil', 'x')\n    z.writestr('demo-1.0.dist-info/METADATA', 'x')`), /\.\." segment|relative path/],
      [zipWith(`    z.writestr('/etc/evil', 'x')\n    z.writestr('demo-1.0.dist-info/METADATA', 'x')`), /absolute path/],
      [zipWith(`    z.writestr('a\\\\b', 'x')\n    z.writestr('demo-1.0.dist-info/METADATA', 'x')`), /backslash|invalid characters/],
      [zipWith(`    i = zipfile.ZipInfo('demo/link'); i.external_attr = (0o120777 << 16)\n    z.writestr(i, '/etc/passwd')\n    z.writestr('demo-1.0.dist-info/METADATA', 'x')`), /symbolic link/],
      [zipWith(`    z.writestr('demo-1.0.dist-info/RECORD', '')`), /METADATA" is missing/],
      [zipWith(`    z.writestr('other-2.0.dist-info/METADATA', 'x')`), /not for demo 1.0/],
      [zipWith(`    z.writestr('demo-1.0.dist-info/METADATA', 'x')\n    z.writestr('demo2-1.0.dist-info/METADATA', 'x')`), /more than one/],
      [python(`open(out, 'wb').write(b'not a zip at all' * 100)`), /not a zip file/],
    ];
    for (const [file, message] of cases) await expect(readWheelMetadata(file, expected), String(message)).rejects.toMatchObject({ status: 400, message });
  });

  it('refuses a zip bomb from its declared sizes', async () => {
    // 64 MiB of zeros deflate to about 64 KiB: a ratio near 1000.
    const bomb = zipWith(`    with z.open('demo/zeros', 'w') as f:\n        for _ in range(64): f.write(bytes(1 << 20))\n    z.writestr('demo-1.0.dist-info/METADATA', ${JSON.stringify(METADATA)})`);
    await expect(readWheelMetadata(bomb, expected, { ratioFloorBytes: 1024 * 1024 })).rejects.toMatchObject({ status: 400, message: /zip bomb/ });
    await expect(readWheelMetadata(bomb, expected, { maxExpandedBytes: 32 * 1024 * 1024 })).rejects.toMatchObject({ status: 400, message: /expands to more than/ });
    // Under the default floor and limits the same file is fine (ratios of small files are not judged).
    expect(await readWheelMetadata(bomb, expected, { ratioFloorBytes: 128 * 1024 * 1024 })).toBe(METADATA);
  });
});

describe('sdist metadata', () => {
  it('reads PKG-INFO of the one top folder, in a tar.gz and in a zip', async () => {
    const sdist = tarWith(`    add(t, 'demo-1.0/setup.py', b'')\n    add(t, 'demo-1.0/PKG-INFO', ${JSON.stringify(METADATA)}.encode())`);
    expect(await readSdistMetadata(sdist, expected)).toBe(METADATA);
    const zipped = zipWith(`    z.writestr('demo-1.0/PKG-INFO', ${JSON.stringify(METADATA)})`);
    expect(await readSdistMetadata(zipped, expected, { extension: '.zip' })).toBe(METADATA);
  });

  it('refuses links, devices, traversal, several top folders, other names and non-gzip files', async () => {
    const info = `add(t, 'demo-1.0/PKG-INFO', ${JSON.stringify(METADATA)}.encode())`;
    const cases: [string, RegExp][] = [
      [tarWith(`    add(t, 'demo-1.0/evil', kind=tarfile.SYMTYPE, link='/etc/passwd')\n    ${info}`), /is a link/],
      [tarWith(`    add(t, 'demo-1.0/hard', kind=tarfile.LNKTYPE, link='../../etc/passwd')\n    ${info}`), /is a link/],
      [tarWith(`    add(t, 'demo-1.0/dev', kind=tarfile.CHRTYPE)\n    ${info}`), /is a character-device/],
      [tarWith(`    add(t, 'demo-1.0/../../evil', b'x')\n    ${info}`), /\.\." segment/],
      [tarWith(`    add(t, '/abs/evil', b'x')\n    ${info}`), /absolute path/],
      [tarWith(`    ${info}\n    add(t, 'other/x', b'x')`), /one top folder/],
      [tarWith(`    add(t, 'other-2.0/PKG-INFO', b'x')`), /not for demo 1.0/],
      [tarWith(`    add(t, 'demo-1.0/setup.py', b'')`), /PKG-INFO" is missing/],
      [python(`open(out, 'wb').write(b'plain text, not gzip')`), /not a tar.gz file/],
    ];
    for (const [file, message] of cases) await expect(readSdistMetadata(file, expected), String(message)).rejects.toMatchObject({ status: 400, message });
  });

  it('stops reading a gzip bomb as it expands', async () => {
    const bomb = tarWith(`    ${`add(t, 'demo-1.0/PKG-INFO', ${JSON.stringify(METADATA)}.encode())`}\n    add(t, 'demo-1.0/zeros', bytes(64 << 20))`);
    await expect(readSdistMetadata(bomb, expected, { ratioFloorBytes: 1024 * 1024 })).rejects.toMatchObject({ status: 400, message: /gzip bomb/ });
    await expect(readSdistMetadata(bomb, expected, { maxExpandedBytes: 16 * 1024 * 1024 })).rejects.toMatchObject({ status: 400, message: /expands to more than/ });
  });
});
