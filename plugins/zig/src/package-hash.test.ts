import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { storedZip } from '@registry-core/testing';
import { crc32 as crc } from 'node:zlib';
import { gunzipSync, gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { parseManifest } from './manifest.js';
import { hashArchive, hashZip, packageHashOf } from './package-hash.js';
import { parseZon } from './zon.js';

async function targz(entries: { name: string; text?: string; type?: 'symlink'; linkname?: string }[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) pack.entry({ name: e.name, mtime: new Date(0), ...(e.type ? { type: e.type, linkname: e.linkname! } : {}) }, e.text ?? '');
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack as AsyncIterable<Buffer>) chunks.push(chunk);
  return gzipSync(Buffer.concat(chunks));
}
/** A tar of one 64 MiB file of zeros: a bomb once compressed. */
async function zerosTar(): Promise<Buffer> {
  const pack = tar.pack();
  pack.entry({ name: 'p/zeros', size: 64 * 1024 * 1024 }, Buffer.alloc(64 * 1024 * 1024));
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}
const hash = (bytes: Buffer) => hashArchive(Readable.from([bytes]), 'tar.gz', bytes.length);

describe('zig package hash', () => {
  // Expected values printed by the real zig: `zig fetch` of 0.14.0-dev.2456 and `zig build` of 0.11.0 on a mismatch.
  it('is the hash zig 0.14 and zig 0.11 print for the same archive (.paths honoured by 0.14 only, symlinks as path + target)', async () => {
    const zon = '.{\n    .name = "mylib",\n    .version = "0.1.0",\n    .paths = .{ "build.zig", "build.zig.zon", "src" },\n}\n';
    const buildZig = 'const std = @import("std");\npub fn build(b: *std.Build) void {\n    _ = b.addModule("mylib", .{ .source_file = .{ .path = "src/lib.zig" } });\n}\n';
    const digest = await hash(await targz([{ name: 'pkg/build.zig.zon', text: zon }, { name: 'pkg/build.zig', text: buildZig }, { name: 'pkg/src/lib.zig', text: 'pub fn answer() u32 { return 42; }\n' }, { name: 'pkg/run.sh', text: '#!/bin/sh\n' }, { name: 'pkg/README.md', text: 'extra\n' }]));
    expect(digest.multihash).toBe('1220ee8d41db39a76cc88dc0a66feb4aa9c14e1787e8ce054f4c1c6366d54e56076b');
    expect(digest.multihash011).toBe('122030bd23f6ec21b78fad0041f40302ea57bb9725afce14ee68abb7cfa3c91a4c08');
    const linked = await hash(await targz([{ name: 'pkg3/build.zig.zon', text: '.{ .name = "p3", .version = "1.0.0", .paths = .{ "build.zig.zon", "src", "LICENSE" } }\n' }, { name: 'pkg3/src/LICENSE.txt', text: 'lic\n' }, { name: 'pkg3/LICENSE', type: 'symlink', linkname: 'src/LICENSE.txt' }, { name: 'pkg3/src/a.zig', text: 'x\n' }, { name: 'pkg3/other.txt', text: 'skip\n' }]));
    expect(linked.multihash).toBe('1220751548fc3f9643b2d123a6bf41d3edd18e476889be5bf11451dd547f5572e918');
    expect(linked.multihash011).toBeUndefined();
  });

  it('is the same for a zip of the same files (zig 0.14 printed this hash for both)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'zig-zip-'));
    const file = path.join(dir, 'pkg.zip');
    writeFileSync(file, storedZip([
      ['pkg/build.zig.zon', Buffer.from('.{\n    .name = "mylib",\n    .version = "0.1.0",\n    .paths = .{ "build.zig", "build.zig.zon", "src" },\n}\n')],
      ['pkg/build.zig', Buffer.from('const std = @import("std");\npub fn build(b: *std.Build) void {\n    _ = b.addModule("mylib", .{ .source_file = .{ .path = "src/lib.zig" } });\n}\n')],
      ['pkg/src/lib.zig', Buffer.from('pub fn answer() u32 { return 42; }\n')],
      ['pkg/README.md', Buffer.from('extra\n')],
    ]));
    const digest = await hashZip(file, statSync(file).size);
    expect(digest.multihash).toBe('1220ee8d41db39a76cc88dc0a66feb4aa9c14e1787e8ce054f4c1c6366d54e56076b');
    const hostile = path.join(dir, 'hostile.zip');
    writeFileSync(hostile, storedZip([['pkg/build.zig.zon', Buffer.from('.{ .name = "a", .version = "1.0.0" }')], ['pkg/../../x', Buffer.from('x')]]));
    await expect(hashZip(hostile, statSync(hostile).size)).rejects.toMatchObject({ status: 400 });
    rmSync(dir, { recursive: true, force: true });
  });

  it("has zig 0.14's name-version-hashplus form for a manifest with a fingerprint", () => {
    const digest = Buffer.alloc(32, 0xab);
    const value = packageHashOf(digest, 'nasm', '2.16.1', 0x01020304, 1000);
    expect(value).toMatch(/^nasm-2\.16\.1-[A-Za-z0-9_-]{44}$/);
    const plus = Buffer.from(value.split('-').slice(2).join('-'), 'base64url');
    expect(plus.readUInt32LE(0)).toBe(0x01020304);
    expect(plus.readUInt32LE(4)).toBe(1000);
    expect(plus.subarray(8)).toEqual(digest.subarray(0, 25));
  });

  it.each([
    ['a dot-dot entry', [{ name: 'p/build.zig.zon', text: '.{ .name = "a", .version = "1.0.0" }' }, { name: 'p/../../x', text: 'x' }]],
    ['a symlink out of the package', [{ name: 'p/build.zig.zon', text: '.{ .name = "a", .version = "1.0.0" }' }, { name: 'p/l', type: 'symlink' as const, linkname: '../../etc/passwd' }]],
    ['files outside one top-level directory', [{ name: 'build.zig.zon', text: '.{ .name = "a", .version = "1.0.0" }' }]],
    ['a path twice', [{ name: 'p/a', text: '1' }, { name: 'p/a', text: '2' }]],
  ])('refuses %s with a 400 and no uncaught error', async (_label, entries) => {
    await expect(hash(await targz(entries))).rejects.toMatchObject({ status: 400 });
  });

  it('refuses a decompression bomb before expanding it all', async () => {
    const bomb = gzipSync(await zerosTar(), { level: 9 });
    await expect(hashArchive(Readable.from([bomb]), 'tar.gz', bomb.length)).rejects.toMatchObject({ status: 400, message: expect.stringContaining('expands') });
  });
});

describe('zig package hash of a .tar.xz', () => {
  // Archives made by Debian's xz (xz-utils), as a publisher would make them.
  const xz = (input: Buffer, ...args: string[]) => execFileSync('xz', ['--compress', '--stdout', ...args], { input, maxBuffer: 64 * 1024 * 1024 });
  const hashXz = (bytes: Buffer) => hashArchive(Readable.from([bytes]), 'tar.xz', bytes.length);
  const files = [
    { name: 'pkg/build.zig.zon', text: '.{\n    .name = "mylib",\n    .version = "0.1.0",\n    .paths = .{ "build.zig", "build.zig.zon", "src" },\n}\n' },
    { name: 'pkg/build.zig', text: 'const std = @import("std");\npub fn build(b: *std.Build) void {\n    _ = b.addModule("mylib", .{ .source_file = .{ .path = "src/lib.zig" } });\n}\n' },
    { name: 'pkg/src/lib.zig', text: 'pub fn answer() u32 { return 42; }\n' },
    { name: 'pkg/README.md', text: 'extra\n' },
  ];

  it.each([
    ['CRC64 (xz\'s default)', []],
    ['CRC32', ['--check=crc32']],
    ['no check', ['--check=none']],
    ['many blocks', ['--block-size=1KiB']],
    ['many blocks from threads', ['-T2', '--block-size=1KiB']],
    ['the largest preset dictionary', ['-9e']],
  ])('is the hash zig printed for the same files, with %s', async (_label, args) => {
    const tarball = gunzipSync(await targz([...files, { name: 'pkg/src/big.zig', text: `// ${'x'.repeat(4000)}\n` }]));
    const digest = await hashXz(xz(tarball, ...args));
    expect(digest).toEqual(await hash(await targz([...files, { name: 'pkg/src/big.zig', text: `// ${'x'.repeat(4000)}\n` }])));
    const plain = await hashXz(xz(gunzipSync(await targz(files)), ...args));
    expect(plain.multihash).toBe('1220ee8d41db39a76cc88dc0a66feb4aa9c14e1787e8ce054f4c1c6366d54e56076b');
  });

  it('stops at the end-of-archive block as zig does: a tar appended after it is not hashed (zig 0.14 printed this hash)', async () => {
    const first = gunzipSync(await targz([{ name: 'pkg/build.zig.zon', text: '.{\n    .name = "catp",\n    .version = "1.0.0",\n    .paths = .{""},\n}\n' }, { name: 'pkg/a.txt', text: 'a\n' }]));
    const second = gunzipSync(await targz([{ name: 'pkg/b.txt', text: 'b\n' }]));
    const zigPrinted = '122042af8880ce73ea14a1f49777fff6e5901e760e0ea5df8d0f7f503a7d186b3368';
    expect((await hash(gzipSync(Buffer.concat([first, second])))).multihash).toBe(zigPrinted);
    expect((await hashXz(xz(Buffer.concat([first, second])))).multihash).toBe(zigPrinted);
    // Two xz streams, one tar each (xz decodes both; zig's tar reader stops after the first).
    expect((await hashXz(Buffer.concat([xz(first), xz(second)]))).multihash).toBe(zigPrinted);
  });

  it('refuses a corrupt stream, a truncated one and a SHA-256 check with a 400, and decodes after them', async () => {
    const good = xz(gunzipSync(await targz(files)));
    const corrupt = Buffer.from(good);
    corrupt[Math.floor(corrupt.length / 2)]! ^= 0xff;
    await expect(hashXz(corrupt)).rejects.toMatchObject({ status: 400, message: expect.stringContaining('tar.xz') });
    await expect(hashXz(good.subarray(0, good.length - 20))).rejects.toMatchObject({ status: 400 });
    await expect(hashXz(xz(gunzipSync(await targz(files)), '--check=sha256'))).rejects.toMatchObject({ status: 400, message: expect.stringContaining('SHA-256') });
    // The decoder's one turn per process was handed back each time.
    await Promise.all([1, 2, 3].map(async () => expect((await hashXz(good)).multihash).toBe('1220ee8d41db39a76cc88dc0a66feb4aa9c14e1787e8ce054f4c1c6366d54e56076b')));
  });

  it('refuses a decompression bomb before expanding it all, as for gzip', async () => {
    const bomb = xz(await zerosTar(), '-1');
    expect(bomb.length).toBeLessThan(64 * 1024);
    await expect(hashXz(bomb)).rejects.toMatchObject({ status: 400, message: expect.stringContaining('expands') });
    // A stream of zeros that is no tar at all is cut by the expansion bound alone.
    const zeros = xz(Buffer.alloc(100 * 1024 * 1024), '-1');
    await expect(hashArchive(Readable.from([zeros]), 'tar.xz', zeros.length, { maxExpandedBytes: 16 * 1024 * 1024 })).rejects.toMatchObject({ status: 400, message: expect.stringContaining('expands') });
    // A refusal mid-stream (a ".." entry before more data) also hands the decoder's turn back.
    const hostile = xz(gunzipSync(await targz([{ name: 'p/../x', text: 'x' }, { name: 'p/big', text: 'y'.repeat(1024 * 1024) }])));
    await expect(hashXz(hostile)).rejects.toMatchObject({ status: 400, message: expect.stringContaining('..') });
    expect((await hashXz(xz(gunzipSync(await targz(files))))).multihash).toBe('1220ee8d41db39a76cc88dc0a66feb4aa9c14e1787e8ce054f4c1c6366d54e56076b');
  });
});

describe('build.zig.zon', () => {
  it('parses the fields zig reads, in both name forms', () => {
    expect(parseManifest(Buffer.from('.{ .name = .my_lib, .version = "1.2.3-rc.1", .fingerprint = 0x' + ((BigInt(require_crc('my_lib')) << 32n) | 7n).toString(16) + ', .paths = .{ "src/", "" }, // comment\n .dependencies = .{ .x = .{ .url = "https://e/x.tar.gz", .hash = "1220" } } }'))).toMatchObject({ name: 'my_lib', version: '1.2.3-rc.1', id: 7, paths: ['src', ''] });
    expect(parseManifest(Buffer.from('.{ .name = "zig-clap", .version = "0.9.1" }'))).toMatchObject({ name: 'zig-clap', version: '0.9.1' });
  });

  it.each([
    ['a name with a slash', '.{ .name = "a/b", .version = "1.0.0" }'],
    ['a version with leading zeros', '.{ .name = "a", .version = "01.0.0" }'],
    ['a missing version', '.{ .name = "a" }'],
    ['a fingerprint of another name', '.{ .name = .a, .version = "1.0.0", .fingerprint = 0x1 }'],
    ['a .paths entry leaving the package', '.{ .name = "a", .version = "1.0.0", .paths = .{ "../x" } }'],
    ['a duplicate field', '.{ .name = "a", .name = "b", .version = "1.0.0" }'],
    ['text that is not ZON', '.{ .name = "a", .version = '],
    ['nesting past the limit', `.{ .name = "a", .version = "1.0.0", .x = ${'.{ '.repeat(100)}${' }'.repeat(100)} }`],
  ])('refuses %s with a 400', (_label, text) => {
    expect(() => parseManifest(Buffer.from(text))).toThrow(expect.objectContaining({ status: 400 }));
  });

  it('keeps __proto__ a plain field', () => {
    const value = parseZon('.{ .@"__proto__" = "x" }');
    expect(value.kind === 'struct' && value.fields.get('__proto__')).toEqual({ kind: 'string', value: 'x' });
  });
});

/** zig 0.14 fingerprints: the upper 32 bits are the CRC-32 of the name (zlib's is zig's std.hash.Crc32). */
const require_crc = (name: string): number => crc(name);
