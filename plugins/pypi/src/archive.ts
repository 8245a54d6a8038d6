import { createReadStream } from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { BadRequestError, archiveEntryProblem } from '@registry-core/api';
import tar from 'tar-stream';
import yauzl from 'yauzl';
import { normalizeName } from './names.js';
import { sameVersion } from './versions.js';

/** Bounds on what an uploaded archive may hold, checked before anything is expanded. */
export interface ArchiveLimits {
  /** Most bytes all entries may expand to. Default 4 GiB. */
  readonly maxExpandedBytes?: number;
  /** Most entries. Default 100,000. */
  readonly maxEntries?: number;
  /** Highest expansion ratio of an entry (or a gzip stream) past `ratioFloorBytes`. Default 200. */
  readonly maxRatio?: number;
  /** Below this many expanded bytes the ratio is not checked (small files compress well). Default 10 MiB. */
  readonly ratioFloorBytes?: number;
  /** sdists only: `.tar.gz` (default) or `.zip`. */
  readonly extension?: string;
}

const MAX_METADATA_BYTES = 1024 * 1024;
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

function refuse(why: string): never {
  throw new BadRequestError(`Invalid distribution file: ${why}.`);
}

/** A path inside an archive that could not escape or confuse anything. */
function checkEntryName(name: string): void {
  const problem = archiveEntryProblem(name);
  if (problem !== undefined) refuse(problem);
}

/** `expected` as written in an archive's metadata folder: `<name>-<version>` compared normalized. */
function sameDistribution(folder: string, expected: { name: string; version: string }): boolean {
  const at = folder.lastIndexOf('-');
  if (at <= 0) return false;
  return normalizeName(folder.slice(0, at)) === normalizeName(expected.name) && sameVersion(folder.slice(at + 1), expected.version);
}

async function readCapped(stream: Readable, cap: number, what: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > cap) {
      stream.destroy();
      refuse(`${what} is larger than ${cap} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

interface ZipScan {
  readonly file: string;
  /** The entry to read, chosen from all names once the central directory was checked. */
  pick(names: readonly string[]): string | undefined;
  readonly what: string;
}

/**
 * Check every entry of a zip from its central directory (names, links, encryption, sizes,
 * ratios) before expanding anything, then read one small entry.
 */
async function readZipEntry(scan: ZipScan, limits: ArchiveLimits): Promise<string> {
  const maxEntries = limits.maxEntries ?? 100_000;
  const maxExpanded = limits.maxExpandedBytes ?? 4 * 1024 ** 3;
  const maxRatio = limits.maxRatio ?? 200;
  const floor = limits.ratioFloorBytes ?? 10 * 1024 * 1024;
  let zip: yauzl.ZipFile;
  try {
    zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
      yauzl.open(scan.file, { lazyEntries: true, autoClose: false, decodeStrings: true, validateEntrySizes: true, strictFileNames: true }, (error, opened) => (error ? reject(error) : resolve(opened))),
    );
  } catch (error) {
    refuse(`not a zip file (${(error as Error).message})`);
  }
  try {
    if (zip.entryCount > maxEntries) refuse(`more than ${maxEntries} entries`);
    const entries = new Map<string, yauzl.Entry>();
    let expanded = 0;
    await new Promise<void>((resolve, reject) => {
      zip.on('error', (error: Error) => reject(new BadRequestError(`Invalid distribution file: ${error.message}.`)));
      zip.on('end', () => resolve());
      zip.on('entry', (entry: yauzl.Entry) => {
        try {
          checkEntryName(entry.fileName);
          if (entries.has(entry.fileName)) refuse(`the entry ${JSON.stringify(entry.fileName)} appears twice`);
          if (entry.isEncrypted()) refuse(`the entry ${JSON.stringify(entry.fileName)} is encrypted`);
          const mode = (entry.externalFileAttributes >>> 16) & S_IFMT;
          if (mode === S_IFLNK) refuse(`the entry ${JSON.stringify(entry.fileName)} is a symbolic link`);
          expanded += entry.uncompressedSize;
          if (expanded > maxExpanded) refuse(`it expands to more than ${maxExpanded} bytes`);
          if (entry.uncompressedSize > floor && entry.uncompressedSize > entry.compressedSize * maxRatio) {
            refuse(`the entry ${JSON.stringify(entry.fileName)} expands ${Math.round(entry.uncompressedSize / Math.max(1, entry.compressedSize))} times (a zip bomb?)`);
          }
          entries.set(entry.fileName, entry);
          zip.readEntry();
        } catch (error) {
          reject(error);
        }
      });
      zip.readEntry();
    });
    const chosen = scan.pick([...entries.keys()]);
    if (chosen === undefined) refuse(`${scan.what} is missing`);
    const entry = entries.get(chosen)!;
    if (entry.uncompressedSize > MAX_METADATA_BYTES) refuse(`${scan.what} is larger than ${MAX_METADATA_BYTES} bytes`);
    const stream = await new Promise<Readable>((resolve, reject) => zip.openReadStream(entry, (error, opened) => (error ? reject(new BadRequestError(`Invalid distribution file: ${error.message}.`)) : resolve(opened))));
    return await readCapped(stream, MAX_METADATA_BYTES, scan.what);
  } finally {
    zip.close();
  }
}

/** The `METADATA` of a wheel: exactly one `<name>-<version>.dist-info/METADATA`, matching the file's name and version. */
export async function readWheelMetadata(file: string, expected: { name: string; version: string }, limits: ArchiveLimits = {}): Promise<string> {
  return readZipEntry(
    {
      file,
      what: 'the wheel\'s ".dist-info/METADATA"',
      pick(names) {
        const found = names.filter((n) => /^[^/]+\.dist-info\/METADATA$/.test(n));
        if (found.length > 1) refuse('the wheel has more than one ".dist-info/METADATA"');
        const [only] = found;
        if (only === undefined) return undefined;
        if (!sameDistribution(only.slice(0, only.indexOf('.dist-info/')), expected)) refuse(`the wheel's metadata folder ${JSON.stringify(only.split('/')[0])} is not for ${expected.name} ${expected.version}`);
        return only;
      },
    },
    limits,
  );
}

/** Counts bytes through it (the compressed side of a gzip stream). */
class Counter extends Transform {
  bytes = 0;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.length;
    callback(null, chunk);
  }
}

/**
 * The `PKG-INFO` at the top of an sdist (`<name>-<version>/PKG-INFO`). A `.tar.gz` is read
 * as a stream: links, devices, absolute or `..` paths refused, expansion bounded as it goes
 * (a gzip bomb is cut off); a `.zip` sdist is checked like a wheel.
 */
export async function readSdistMetadata(file: string, expected: { name: string; version: string }, limits: ArchiveLimits = {}): Promise<string> {
  const what = 'the sdist\'s "PKG-INFO"';
  if ((limits.extension ?? '.tar.gz') === '.zip') {
    return readZipEntry(
      {
        file,
        what,
        pick(names) {
          const tops = new Set(names.map((n) => n.split('/')[0]!));
          if (tops.size !== 1) refuse('an sdist holds exactly one top folder');
          const [top] = tops;
          if (!sameDistribution(top!, expected)) refuse(`the sdist's folder ${JSON.stringify(top)} is not for ${expected.name} ${expected.version}`);
          return names.includes(`${top}/PKG-INFO`) ? `${top}/PKG-INFO` : undefined;
        },
      },
      limits,
    );
  }
  const maxExpanded = limits.maxExpandedBytes ?? 4 * 1024 ** 3;
  const maxRatio = limits.maxRatio ?? 200;
  const floor = limits.ratioFloorBytes ?? 10 * 1024 * 1024;
  const maxEntries = limits.maxEntries ?? 100_000;
  const source = createReadStream(file);
  const counter = new Counter();
  const gunzip = createGunzip();
  const extract = tar.extract();
  let expanded = 0;
  let entries = 0;
  let top: string | undefined;
  let metadata: string | undefined;
  const stop = (error: Error) => {
    source.destroy();
    gunzip.destroy();
    extract.destroy(error);
  };
  gunzip.on('data', (chunk: Buffer) => {
    expanded += chunk.length;
    if (expanded > maxExpanded) stop(new BadRequestError(`Invalid distribution file: it expands to more than ${maxExpanded} bytes.`));
    else if (expanded > floor && expanded > counter.bytes * maxRatio) stop(new BadRequestError(`Invalid distribution file: it expands ${Math.round(expanded / Math.max(1, counter.bytes))} times (a gzip bomb?).`));
  });
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      // When the extraction is stopped, the entry's stream errors too: that error is the one already reported.
      stream.on('error', () => undefined);
      const fail = (error: unknown) => {
        stream.resume();
        reject(error);
        stop(error as Error);
      };
      try {
        entries++;
        if (entries > maxEntries) refuse(`more than ${maxEntries} entries`);
        // pax global headers and GNU long-name records are handled by tar-stream itself.
        const name = header.name.replace(/^\.\//, '').replace(/\/$/, '');
        checkEntryName(name);
        if (header.type === 'symlink' || header.type === 'link') refuse(`the entry ${JSON.stringify(name)} is a link`);
        if (header.type !== 'file' && header.type !== 'directory' && header.type !== 'contiguous-file') refuse(`the entry ${JSON.stringify(name)} is a ${header.type}`);
        const first = name.split('/')[0]!;
        if (top === undefined) {
          top = first;
          if (!sameDistribution(top, expected)) refuse(`the sdist's folder ${JSON.stringify(top)} is not for ${expected.name} ${expected.version}`);
        } else if (first !== top) refuse('an sdist holds exactly one top folder');
        if (name === `${top}/PKG-INFO` && header.type === 'file') {
          if ((header.size ?? 0) > MAX_METADATA_BYTES) refuse(`${what} is larger than ${MAX_METADATA_BYTES} bytes`);
          readCapped(stream as unknown as Readable, MAX_METADATA_BYTES, what).then((text) => {
            metadata = text;
            next();
          }, fail);
          return;
        }
      } catch (error) {
        fail(error);
        return;
      }
      stream.on('end', () => next());
      stream.resume();
    });
    extract.on('finish', () => resolve());
    extract.on('error', (error: Error) => reject(error));
    source.on('error', reject);
    gunzip.on('error', (error: Error) => reject(new BadRequestError(`Invalid distribution file: not a tar.gz file (${error.message}).`)));
  });
  source.pipe(counter).pipe(gunzip).pipe(extract);
  try {
    await done;
  } catch (error) {
    if ((error as { status?: number }).status !== undefined) throw error;
    refuse(`not a tar.gz file (${(error as Error).message})`);
  }
  if (metadata === undefined) refuse(`${what} is missing`);
  return metadata;
}
