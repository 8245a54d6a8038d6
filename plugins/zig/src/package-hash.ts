import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createRequire } from 'node:module';
import { ReadableStream, type ReadableStreamReadResult } from 'node:stream/web';
import { createGunzip } from 'node:zlib';
import { BadRequestError } from '@registry-core/api';
import tar from 'tar-stream';
import yauzl from 'yauzl';
import { includedByPaths, parseManifest, type ZigManifest } from './manifest.js';

/**
 * The package hash as the zig toolchain computes it, from the archive's bytes as they
 * stream past (nothing is unpacked to disk, nothing but one file's digest is kept per file).
 *
 * zig unpacks the archive, strips its single top-level directory, keeps the files `.paths`
 * includes (0.12 and later; 0.11 keeps all), and hashes each file as
 * sha256(path ‖ 0x00 ‖ 0x00 ‖ bytes) (the second byte is the executable bit, hard-coded to
 * false since zig issue 17463: 0.11 unpacks tarballs without modes, so it is 0 there too), or
 * a symlink as sha256(path ‖ target); the package digest is sha256 of those digests in the
 * byte order of the paths. The `1220…` multihash is that digest in hex behind sha2-256's
 * code and length; zig 0.14's `name-version-hashplus` is
 * base64url(u32le id ‖ u32le size ‖ digest[0..25]) behind the manifest's name and version,
 * size being the bytes of the hashed files (saturated at 2³²-1).
 */

/** Bounds on an archive, checked while it streams. */
export interface ArchiveLimits {
  /** Most bytes all files may expand to. Default 1 GiB. */
  readonly maxExpandedBytes?: number;
  /** Most entries. Default 100,000. */
  readonly maxEntries?: number;
  /** Highest ratio of expanded to compressed bytes once past 16 MiB expanded. Default 200. */
  readonly maxRatio?: number;
  /** Largest `build.zig.zon`. Default 1 MiB. */
  readonly maxManifestBytes?: number;
}

/** One hashed file of a package (path relative to the package root). */
interface HashedFile {
  readonly path: string;
  readonly kind: 'file' | 'link';
  readonly digest: Buffer;
  readonly size: number;
}

/** What an archive is, for zig: its hashes and its manifest. */
export interface PackageDigest {
  /** The top-level directory zig strips. */
  readonly root: string;
  /** The manifest, when the archive has a `build.zig.zon` at its root. */
  readonly manifest?: ZigManifest;
  /** The `1220…` hash zig 0.12 to 0.14 compute (files `.paths` includes). */
  readonly multihash: string;
  /** The `1220…` hash zig 0.11 computes (every file), absent when it would refuse the archive (symlinks). */
  readonly multihash011?: string;
  /** zig 0.14's `name-version-hashplus` form, when the manifest has a `.fingerprint`. */
  readonly packageHash?: string;
  /** Bytes of the files hashed (zig 0.14's total size). */
  readonly size: number;
  /** Files hashed. */
  readonly files: number;
}

export type ArchiveKind = 'tar.gz' | 'tar.xz' | 'tar';

function refuse(message: string): never {
  throw new BadRequestError(`invalid package archive: ${message}`);
}

/** The archive kind from its first bytes (zstd is recognised but not read here). */
export function sniffArchive(head: Buffer): ArchiveKind | 'zip' | 'tar.zst' | undefined {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'tar.gz';
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'tar.xz';
  if (head.length >= 4 && head.readUInt32LE(0) === 0x04034b50) return 'zip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'tar.zst';
  if (head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return 'tar';
  return undefined;
}

/** An entry's path: relative, no `..`, no NUL or backslash; leading `./` dropped. */
function entryPath(raw: string): string {
  if (raw === '' || raw.includes('\0')) refuse('an entry has an empty name or a NUL character');
  if (raw.includes('\\')) refuse(`the entry ${JSON.stringify(raw.slice(0, 200))} has a backslash in its path`);
  if (raw.startsWith('/') || /^[A-Za-z]:/.test(raw)) refuse(`the entry ${JSON.stringify(raw.slice(0, 200))} has an absolute path`);
  const segments = raw.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) refuse(`the entry ${JSON.stringify(raw.slice(0, 200))} has a ".." segment`);
  return segments.join('/');
}

/**
 * The entries of one archive as zig unpacks them: paths checked, each file hashed as its
 * bytes pass, the top-level directory and `build.zig.zon` noted; {@link finish} gives the
 * package digest. The tar and zip readers feed it.
 */
class PackageCollector {
  private readonly files: HashedFile[] = [];
  private readonly links: { full: string; target: string }[] = [];
  private readonly seen = new Set<string>();
  private manifestBytes: Buffer | undefined;
  private entries = 0;
  private expanded = 0;
  private root: string | undefined;
  private flat = false;
  private readonly maxExpanded: number;
  private readonly maxEntries: number;
  private readonly maxRatio: number;
  private readonly maxManifest: number;

  constructor(private readonly compressedSize: number, limits: ArchiveLimits) {
    this.maxExpanded = limits.maxExpandedBytes ?? 1024 * 1024 * 1024;
    this.maxEntries = limits.maxEntries ?? 100_000;
    this.maxRatio = limits.maxRatio ?? 200;
    this.maxManifest = limits.maxManifestBytes ?? 1024 * 1024;
  }

  /** Where a new entry lands: counted, its path checked, the top-level directory tracked. */
  private place(raw: string, directory: boolean): string {
    if (++this.entries > this.maxEntries) refuse(`it has more than ${this.maxEntries} entries`);
    const full = entryPath(raw);
    if (full === '') {
      if (!directory) refuse('an entry has an empty name');
      return full;
    }
    const top = full.split('/')[0]!;
    if (!directory && !full.includes('/')) this.flat = true;
    if (this.root === undefined) this.root = top;
    else if (this.root !== top) this.flat = true;
    if (!directory) {
      if (this.seen.has(full)) refuse(`the path ${JSON.stringify(full.slice(0, 200))} is in it twice`);
      this.seen.add(full);
    }
    return full;
  }

  directory(raw: string): void {
    this.place(raw, true);
  }

  symlink(raw: string, target: string): void {
    const full = this.place(raw, false);
    if (target === '' || target.includes('\0') || target.includes('\\') || target.startsWith('/')) refuse(`the symlink ${JSON.stringify(full.slice(0, 200))} points outside the package`);
    this.links.push({ full, target });
  }

  /** A regular file: `chunk` for each piece of its bytes, then `end`. */
  file(raw: string): { chunk(bytes: Buffer): void; end(): void } {
    const full = this.place(raw, false);
    const relative = full.slice(full.indexOf('/') + 1);
    const hasher = createHash('sha256').update(relative, 'utf8').update(Buffer.from([0, 0]));
    const keepManifest = full.indexOf('/') > 0 && relative === 'build.zig.zon';
    const manifest: Buffer[] = [];
    let size = 0;
    return {
      chunk: (bytes) => {
        size += bytes.length;
        this.expanded += bytes.length;
        if (this.expanded > this.maxExpanded) refuse(`it expands to more than ${this.maxExpanded} bytes`);
        if (this.expanded > 16 * 1024 * 1024 && this.expanded > this.compressedSize * this.maxRatio) refuse(`it expands more than ${this.maxRatio} times its size (a decompression bomb?)`);
        if (keepManifest) {
          if (size > this.maxManifest) refuse(`build.zig.zon is larger than ${this.maxManifest} bytes`);
          manifest.push(bytes);
        }
        hasher.update(bytes);
      },
      end: () => {
        this.files.push({ path: relative, kind: 'file', digest: hasher.digest(), size });
        if (keepManifest) this.manifestBytes = Buffer.concat(manifest);
      },
    };
  }

  finish(): PackageDigest {
    if (this.root === undefined || this.files.length + this.links.length === 0) refuse('it holds no files');
    if (this.flat) refuse('its files must all be inside one top-level directory (zig strips it), such as my_lib-1.0.0/');
    const top = this.root;
    const hashed: HashedFile[] = [...this.files];
    for (const { full, target } of this.links) {
      const relative = full.slice(top.length + 1);
      // A link resolved from its own folder must stay inside the package.
      const resolved = posix.normalize(posix.join(posix.dirname(relative), target));
      if (resolved === '..' || resolved.startsWith('../') || posix.isAbsolute(resolved)) refuse(`the symlink ${JSON.stringify(full.slice(0, 200))} points outside the package`);
      hashed.push({ path: relative, kind: 'link', digest: createHash('sha256').update(relative, 'utf8').update(target, 'utf8').digest(), size: 0 });
    }
    const manifest = this.manifestBytes !== undefined ? parseManifest(this.manifestBytes) : undefined;
    const included = hashed.filter((f) => includedByPaths(f.path, manifest?.paths));
    const digestOf = (list: readonly HashedFile[]) => {
      const sorted = [...list].sort((a, b) => Buffer.compare(Buffer.from(a.path, 'utf8'), Buffer.from(b.path, 'utf8')));
      const outer = createHash('sha256');
      for (const file of sorted) outer.update(file.digest);
      return outer.digest();
    };
    const digest = digestOf(included);
    const size = included.reduce((n, f) => n + f.size, 0);
    const multihash = `1220${digest.toString('hex')}`;
    const multihash011 = this.links.length > 0 ? undefined : `1220${digestOf(hashed).toString('hex')}`;
    const packageHash = manifest?.id !== undefined ? packageHashOf(digest, manifest.name, manifest.version, manifest.id, size) : undefined;
    return { root: top, ...(manifest ? { manifest } : {}), multihash, ...(multihash011 ? { multihash011 } : {}), ...(packageHash ? { packageHash } : {}), size, files: included.length };
  }
}

/**
 * Hash the archive `body` (a `.tar.gz`, `.tar.xz` or `.tar`; `compressedSize` its bytes, for
 * the expansion ratio) as zig does. Refused with a 400: entries outside the package (`..`,
 * absolute paths, symlinks leaving it), special files, duplicate paths, no single top-level
 * directory, a bomb, an unparsable `build.zig.zon`.
 */
export async function hashArchive(body: Readable, kind: ArchiveKind, compressedSize: number, limits: ArchiveLimits = {}): Promise<PackageDigest> {
  const collector = new PackageCollector(compressedSize, limits);
  const maxExpanded = limits.maxExpandedBytes ?? 1024 * 1024 * 1024;
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    // The entry's stream errors with the archive when it is destroyed: that error is the archive's, reported once.
    stream.on('error', () => undefined);
    const fail = (error: unknown) => {
      stream.resume();
      extract.destroy(error as Error);
    };
    const skip = () => {
      stream.resume();
      stream.on('end', () => next());
    };
    try {
      const type = header.type;
      if (type === 'directory') return void (collector.directory(header.name), skip());
      if (type === 'symlink') return void (collector.symlink(header.name, header.linkname ?? ''), skip());
      if (type !== 'file' && type !== 'contiguous-file') refuse(`the entry ${JSON.stringify(header.name.slice(0, 200))} is a ${type}, which zig does not unpack`);
      const file = collector.file(header.name);
      stream.on('data', (data: unknown) => {
        try {
          file.chunk(data as Buffer);
        } catch (error) {
          fail(error);
        }
      });
      stream.on('end', () => {
        file.end();
        next();
      });
    } catch (error) {
      fail(error);
    }
  });

  const source = kind === 'tar' ? [body] : [body, kind === 'tar.gz' ? createGunzip() : decompressXz, countExpanded((n) => {
    // A compressed stream that expands absurdly is cut before tar sees it all.
    if (n > maxExpanded + 64 * 1024 * 1024) body.destroy(new BadRequestError(`invalid package archive: it expands to more than ${maxExpanded} bytes`));
  })];
  try {
    await pipeline([...source, untilEndOfArchive(), extract] as unknown as [Readable, Writable]);
  } catch (error) {
    if (error instanceof BadRequestError) throw error;
    refuse(`it is not a readable ${kind} (${error instanceof Error ? error.message : String(error)})`);
  }
  return collector.finish();
}

// A CommonJS bundle whose exports Node's ESM loader cannot name.
const { XzReadableStream } = createRequire(import.meta.url)('xz-decompress') as typeof import('xz-decompress');

/** What xz-embedded's return codes mean, for the refusal (xz_ret in its xz.h). */
const XZ_ERRORS: Readonly<Record<string, string>> = {
  '2': 'an integrity check this registry cannot verify',
  '3': 'the decoder ran out of memory',
  '4': 'its dictionary is larger than 64 MiB',
  '5': 'it is not an xz stream',
  '6': 'an xz option this registry does not read (a SHA-256 check or a filter other than LZMA2)',
  '7': 'its data is corrupt (or fails its integrity check)',
  '8': 'the xz stream is truncated',
};

/**
 * A pipeline stage that decodes an xz stream (any number of blocks and concatenated streams;
 * CRC32, CRC64 or no check, as xz writes them) with xz-embedded compiled to WebAssembly
 * (the `xz-decompress` package): no native code, memory bounded by its 64 MiB dictionary
 * limit. The package decodes one stream at a time per process and holds that turn from its
 * first read until the stream ends, errors or is cancelled: the reader is always read to its
 * end or cancelled here, and only once a read has settled (a cancel before its start has
 * taken the turn would hand the turn to no one).
 */
async function* decompressXz(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const reader = new XzReadableStream(ReadableStream.from(source) as unknown as globalThis.ReadableStream<Uint8Array>).getReader();
  let finished = false;
  try {
    for (;;) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (error) {
        finished = true;
        const code = /error code (\d+)/.exec(error instanceof Error ? error.message : '')?.[1];
        if (code !== undefined) throw new Error(XZ_ERRORS[code] ?? `xz error ${code}`);
        throw error;
      }
      if (next.done) return void (finished = true);
      if (next.value.length > 0) yield Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
    }
  } finally {
    if (!finished) await reader.cancel().catch(() => undefined);
  }
}

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

/**
 * Hash the zip at `file` (on disk: a zip is read from its central directory) as zig 0.13 and
 * later do; refusals as {@link hashArchive}'s.
 */
export async function hashZip(file: string, compressedSize: number, limits: ArchiveLimits = {}): Promise<PackageDigest> {
  const collector = new PackageCollector(compressedSize, limits);
  let zip: yauzl.ZipFile;
  try {
    zip = await new Promise<yauzl.ZipFile>((resolve, reject) => yauzl.open(file, { lazyEntries: true, autoClose: true, strictFileNames: true, validateEntrySizes: true }, (error, opened) => (error ? reject(error) : resolve(opened))));
  } catch (error) {
    refuse(`it is not a readable zip (${error instanceof Error ? error.message : String(error)})`);
  }
  try {
    await new Promise<void>((resolve, reject) => {
      zip.on('error', reject);
      zip.on('end', resolve);
      zip.on('entry', (entry: yauzl.Entry) => {
        try {
          const mode = (entry.externalFileAttributes >>> 16) & S_IFMT;
          if (entry.fileName.endsWith('/')) {
            collector.directory(entry.fileName);
            zip.readEntry();
            return;
          }
          const file = mode === S_IFLNK ? undefined : collector.file(entry.fileName);
          zip.openReadStream(entry, (error, stream) => {
            if (error) return reject(error);
            const link: Buffer[] = [];
            stream.on('data', (chunk: Buffer) => {
              try {
                if (file) file.chunk(chunk);
                else if (link.push(chunk) > 64) refuse('a symlink target is too long');
              } catch (failure) {
                stream.destroy();
                reject(failure);
              }
            });
            stream.on('error', reject);
            stream.on('end', () => {
              try {
                if (file) file.end();
                else collector.symlink(entry.fileName, Buffer.concat(link).toString('utf8'));
                zip.readEntry();
              } catch (failure) {
                reject(failure);
              }
            });
          });
        } catch (failure) {
          reject(failure);
        }
      });
      zip.readEntry();
    });
  } catch (error) {
    zip.close();
    if (error instanceof BadRequestError) throw error;
    refuse(`it is not a readable zip (${error instanceof Error ? error.message : String(error)})`);
  }
  return collector.finish();
}

/** zig 0.14's `name-version-hashplus` (see the module comment). */
export function packageHashOf(digest: Buffer, name: string, version: string, id: number, size: number): string {
  const plus = Buffer.alloc(33);
  plus.writeUInt32LE(id >>> 0, 0);
  plus.writeUInt32LE(Math.min(size, 0xffffffff), 4);
  digest.copy(plus, 8, 0, 25);
  return `${name}-${version}-${plus.toString('base64url')}`;
}

/** A `1220…` multihash or a `name-version-hashplus`: what a `.hash` field may hold. */
export function isZigHash(value: string): boolean {
  return /^1220[0-9a-f]{64}$/.test(value) || /^[A-Za-z_][A-Za-z0-9_-]{0,31}-[0-9A-Za-z.+-]{1,32}-[A-Za-z0-9_-]{44}$/.test(value) || /^N-V-[A-Za-z0-9_-]{44}$/.test(value);
}

/** Whether `hash` (any form) names the package `digest` describes. */
export function matchesHash(digest: PackageDigest, hash: string): boolean {
  return hash === digest.multihash || hash === digest.multihash011 || hash === digest.packageHash;
}

/**
 * A tar passed through up to its first all-zero header block, where zig's tar reader stops
 * (tar-stream reads on past it: entries after the end-of-archive marker, such as a second tar
 * appended to the first, would be hashed though zig never sees them). Entry data, pax and
 * long-name records are skipped by the size in their header.
 */
function untilEndOfArchive(): Transform {
  let skip = 0;
  let header = Buffer.alloc(0);
  let ended = false;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (ended) return done();
      let offset = 0;
      while (offset < chunk.length) {
        if (skip > 0) {
          const n = Math.min(skip, chunk.length - offset);
          skip -= n;
          offset += n;
          continue;
        }
        const n = Math.min(512 - header.length, chunk.length - offset);
        header = Buffer.concat([header, chunk.subarray(offset, offset + n)]);
        offset += n;
        if (header.length < 512) break;
        if (header.every((b) => b === 0)) {
          ended = true;
          this.push(chunk.subarray(0, offset));
          this.push(null);
          return done();
        }
        skip = Math.ceil(tarEntrySize(header) / 512) * 512;
        header = Buffer.alloc(0);
      }
      done(null, chunk);
    },
  });
}

/** The size field of a tar header: octal text, or base-256 when its first byte has the high bit (as tar-stream reads it). */
function tarEntrySize(header: Buffer): number {
  const field = header.subarray(124, 136);
  if (field[0]! & 0x80) {
    let size = 0;
    for (let i = 1; i < field.length; i++) size = size * 256 + field[i]!;
    return size;
  }
  const text = /^[\0 ]*([0-7]*)/.exec(field.toString('latin1'))?.[1] ?? '';
  return text ? parseInt(text, 8) : 0;
}

/** A pass-through that reports the bytes seen so far. */
function countExpanded(report: (bytes: number) => void): Transform {
  let total = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      total += chunk.length;
      report(total);
      done(null, chunk);
    },
  });
}
