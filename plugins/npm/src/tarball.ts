import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { BadRequestError } from '@registry-core/api';
import tar from 'tar-stream';

/** What the registry learns from a package tarball. */
export interface TarballFacts {
  /** The package.json inside the tarball. */
  readonly manifest: Record<string, unknown>;
  readonly fileCount: number;
  readonly unpackedSize: number;
  /** Paths (without the top folder) of the files, for checks such as binding.gyp. */
  readonly hasBindingGyp: boolean;
}

const MAX_MANIFEST_BYTES = 1024 * 1024;
/** More entries than any real package has; past it the tarball is refused (CPU, not bytes). */
const MAX_ENTRIES = 200_000;

/**
 * Read a published tarball as a stream and refuse what npm should never have packed:
 * anything but regular files and folders (symlinks, hard links, devices), absolute
 * paths, `..` segments, backslashes, more than one top folder, two entries for one path
 * (compared case- and normalisation-insensitively, as macOS and Windows file systems do:
 * a second package.json would silently replace the one checked), or a missing or invalid
 * package.json. Unpacked size and entry count are capped to stop decompression bombs.
 */
export async function inspectTarball(source: Readable, options: { maxUnpackedBytes: number }): Promise<TarballFacts> {
  const gunzip = createGunzip();
  const extract = tar.extract();
  source.on('error', (e) => gunzip.destroy(e));
  gunzip.on('error', (e) => extract.destroy(e));
  source.pipe(gunzip).pipe(extract);
  let manifestText: string | undefined;
  let top: string | undefined;
  let fileCount = 0;
  let unpackedSize = 0;
  let hasBindingGyp = false;
  let entries = 0;
  const seen = new Set<string>();
  try {
    for await (const entry of extract) {
      const header = entry.header;
      const name = header.name;
      const bad = (why: string): never => {
        throw new BadRequestError(`tarball entry "${name.slice(0, 200)}" ${why}`);
      };
      if (header.type !== 'file' && header.type !== 'directory') bad(`is a ${header.type}; only files and folders are allowed`);
      if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) bad('has an absolute path');
      if (name.includes('\\')) bad('contains a backslash');
      const segments = name.split('/').filter((s) => s !== '' && s !== '.');
      if (segments.includes('..')) bad('contains ".."');
      if (segments.length === 0) bad('has an empty path');
      if (++entries > MAX_ENTRIES) bad(`is one entry too many (at most ${MAX_ENTRIES})`);
      const key = segments.join('/').normalize('NFC').toLowerCase();
      if (header.type === 'file' && seen.has(key)) bad('appears twice in the tarball');
      seen.add(key);
      const first = segments[0]!;
      if (top === undefined) top = first;
      else if (top !== first && header.type === 'file') bad(`is outside the package folder "${top}"`);
      if (header.type === 'file') {
        if (segments.length === 1) bad('is not inside a package folder');
        fileCount++;
        const relative = segments.slice(1).join('/');
        if (relative === 'binding.gyp') hasBindingGyp = true;
        if (relative === 'package.json') {
          if ((header.size ?? 0) > MAX_MANIFEST_BYTES) bad('is too large for a package.json');
          const chunks: Buffer[] = [];
          for await (const chunk of entry) chunks.push(chunk as Buffer);
          manifestText = Buffer.concat(chunks).toString('utf8');
          unpackedSize += header.size ?? 0;
          continue;
        }
      }
      let entryBytes = 0;
      for await (const chunk of entry) {
        entryBytes += (chunk as Buffer).length;
        if (unpackedSize + entryBytes > options.maxUnpackedBytes) bad(`makes the package larger than ${options.maxUnpackedBytes} bytes unpacked`);
      }
      unpackedSize += entryBytes;
    }
  } catch (error) {
    source.unpipe();
    source.resume();
    if ((error as { code?: string }).code === 'Z_DATA_ERROR' || /incorrect header check|unexpected end|invalid tar/i.test((error as Error).message)) {
      throw new BadRequestError('the attachment is not a gzip-compressed tarball');
    }
    throw error;
  }
  if (top === undefined) throw new BadRequestError('the attachment is not a gzip-compressed tarball (no entries)');
  if (manifestText === undefined) throw new BadRequestError('the tarball has no package.json in its package folder');
  let manifest: unknown;
  try {
    manifest = JSON.parse(manifestText);
  } catch {
    throw new BadRequestError("the tarball's package.json is not valid JSON");
  }
  if (!manifest || typeof manifest !== 'object' || Array.isArray(manifest)) throw new BadRequestError("the tarball's package.json is not an object");
  return { manifest: manifest as Record<string, unknown>, fileCount, unpackedSize, hasBindingGyp };
}
