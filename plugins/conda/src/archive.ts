import { createReadStream, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import { BadRequestError, PayloadTooLargeError, archiveEntryProblem } from '@registry-core/api';
import { Decompress } from 'fzstd';
import tar from 'tar-stream';
import unbzip2 from 'unbzip2-stream';
import yauzl from 'yauzl';

/** Bounds on what an uploaded package may hold, checked while it is read. */
export interface ArchiveLimits {
  /** Most bytes all entries may expand to. Default 4 GiB. */
  readonly maxExpandedBytes?: number;
  /** Most entries. Default 200,000. */
  readonly maxEntries?: number;
  /** Highest expansion ratio past `ratioFloorBytes`. Default 200. */
  readonly maxRatio?: number;
  /** Below this many expanded bytes the ratio is not checked (small files compress well). Default 10 MiB. */
  readonly ratioFloorBytes?: number;
}

const MAX_INDEX_BYTES = 1024 * 1024;
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

function refuse(why: string): never {
  throw new BadRequestError(`Invalid conda package: ${why}.`);
}

/** A path inside an archive that could not escape or confuse anything. */
function checkEntryName(name: string): void {
  const problem = archiveEntryProblem(name);
  if (problem !== undefined) refuse(problem);
}

/** A symbolic link must point inside the package (relative, never above its root). */
function checkLinkTarget(name: string, target: string): void {
  if (target === '' || target.includes('\0') || target.startsWith('/') || /^[A-Za-z]:/.test(target) || target.includes('\\')) refuse(`the link ${JSON.stringify(name)} points to ${JSON.stringify(target)}, outside the package`);
  const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(name), target));
  if (resolved === '..' || resolved.startsWith('../')) refuse(`the link ${JSON.stringify(name)} points to ${JSON.stringify(target)}, outside the package`);
}

/** Counts the compressed bytes that went in and the expanded bytes that came out, and stops a bomb. */
class ExpansionGuard {
  compressed = 0;
  expanded = 0;
  entries = 0;
  constructor(private readonly limits: Required<ArchiveLimits>) {}
  counter(side: 'compressed' | 'expanded'): Transform {
    return new Transform({
      transform: (chunk: Buffer, _encoding, callback) => {
        if (side === 'compressed') this.compressed += chunk.length;
        else {
          this.expanded += chunk.length;
          if (this.expanded > this.limits.maxExpandedBytes) return callback(new BadRequestError(`Invalid conda package: it expands to more than ${this.limits.maxExpandedBytes} bytes.`));
          if (this.expanded > this.limits.ratioFloorBytes && this.expanded > this.compressed * this.limits.maxRatio) {
            return callback(new BadRequestError(`Invalid conda package: it expands ${Math.round(this.expanded / Math.max(1, this.compressed))} times (a compression bomb?).`));
          }
        }
        callback(null, chunk);
      },
    });
  }
  entry(): void {
    if (++this.entries > this.limits.maxEntries) refuse(`more than ${this.limits.maxEntries} entries`);
  }
}

/** zstd decompression as a stream (Node 20 has none built in; fzstd is pure JavaScript). */
function zstdDecompressor(): Transform {
  let decompress: Decompress;
  const transform = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      try {
        decompress.push(chunk);
        callback();
      } catch (error) {
        callback(new BadRequestError(`Invalid conda package: bad zstd data (${(error as Error).message}).`));
      }
    },
    flush(callback) {
      try {
        decompress.push(new Uint8Array(0), true);
        callback();
      } catch (error) {
        callback(new BadRequestError(`Invalid conda package: bad zstd data (${(error as Error).message}).`));
      }
    },
  });
  decompress = new Decompress((data) => {
    transform.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  });
  return transform;
}

function bzip2Decompressor(): Transform {
  // unbzip2-stream is a `through` stream; wrapped so that its errors become refusals.
  const inner = unbzip2() as unknown as NodeJS.ReadWriteStream;
  const transform = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      inner.write(chunk) ? callback() : inner.once('drain', () => callback());
    },
    flush(callback) {
      if (failed) return callback(failed);
      inner.once('end', () => callback(failed));
      inner.end();
      if (failed) callback(failed);
    },
  });
  let failed: Error | undefined;
  inner.on('data', (data: Buffer) => transform.push(data));
  inner.on('error', (error: Error) => {
    if (failed) return;
    failed = new BadRequestError(`Invalid conda package: bad bzip2 data (${error.message}).`);
    transform.destroy(failed);
  });
  return transform;
}

/**
 * Read a tar stream (already expanded) to its end, checking every entry: paths, links and
 * types. Resolves the bytes of `capture` when the tar has it as a regular file.
 */
async function scanTar(stages: readonly [Readable, ...Transform[]], guard: ExpansionGuard, capture: string | undefined): Promise<Buffer | undefined> {
  const extract = tar.extract();
  let captured: Buffer | undefined;
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      stream.on('error', () => undefined);
      try {
        guard.entry();
        const name = header.name.replace(/^\.\//, '').replace(/\/$/, '');
        checkEntryName(name);
        if (header.type === 'symlink') checkLinkTarget(name, header.linkname ?? '');
        else if (header.type === 'link') checkEntryName((header.linkname ?? '').replace(/^\.\//, ''));
        else if (header.type !== 'file' && header.type !== 'directory' && header.type !== 'contiguous-file') refuse(`the entry ${JSON.stringify(name)} is a ${header.type}`);
        if (name === capture && header.type === 'file') {
          if ((header.size ?? 0) > MAX_INDEX_BYTES) refuse(`${capture} is larger than ${MAX_INDEX_BYTES} bytes`);
          const chunks: Buffer[] = [];
          stream.on('data', (chunk: unknown) => {
            chunks.push(chunk as Buffer);
          });
          stream.on('end', () => {
            captured = Buffer.concat(chunks);
            next();
          });
          return;
        }
      } catch (error) {
        stream.resume();
        reject(error);
        extract.destroy(error as Error);
        return;
      }
      stream.on('end', () => next());
      stream.resume();
    });
    extract.on('finish', () => resolve());
    extract.on('error', (error: Error) => reject(error));
  });
  // One pipeline for every stage: an error anywhere (a bad bzip2 block) destroys them all and
  // rejects here, never as an unhandled 'error' event.
  await Promise.all([pipeline([...stages, extract]), done]);
  return captured;
}

function asRefusal(error: unknown, what: string): never {
  if ((error as { status?: number }).status !== undefined) throw error;
  refuse(`${what} (${(error as Error).message})`);
}

function parseIndex(bytes: Buffer | undefined): Record<string, unknown> {
  if (bytes === undefined) refuse('info/index.json is missing');
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    refuse('info/index.json is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) refuse('info/index.json is not a JSON object');
  return parsed as Record<string, unknown>;
}

function withDefaults(limits: ArchiveLimits): Required<ArchiveLimits> {
  return { maxExpandedBytes: limits.maxExpandedBytes ?? 4 * 1024 ** 3, maxEntries: limits.maxEntries ?? 200_000, maxRatio: limits.maxRatio ?? 200, ratioFloorBytes: limits.ratioFloorBytes ?? 10 * 1024 * 1024 };
}

/** `info/index.json` of a `.tar.bz2` package, after checking every entry of it. */
export async function readTarBz2Index(file: string, limits: ArchiveLimits = {}): Promise<Record<string, unknown>> {
  const guard = new ExpansionGuard(withDefaults(limits));
  let index: Buffer | undefined;
  try {
    index = await scanTar([createReadStream(file), guard.counter('compressed'), bzip2Decompressor(), guard.counter('expanded')], guard, 'info/index.json');
  } catch (error) {
    asRefusal(error, 'not a tar.bz2 file');
  }
  return parseIndex(index);
}

function openZip(file: string): Promise<yauzl.ZipFile> {
  return new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(file, { lazyEntries: true, autoClose: false, decodeStrings: true, validateEntrySizes: true, strictFileNames: true }, (error, opened) => (error ? reject(error) : resolve(opened))),
  ).catch((error: unknown) => refuse(`not a zip file (${(error as Error).message})`));
}

/**
 * `info/index.json` of a `.conda` package (a zip of `metadata.json`, `info-<stem>.tar.zst`
 * and `pkg-<stem>.tar.zst`), after checking the zip's entries and every entry of both tars.
 */
export async function readCondaIndex(file: string, stem: string, limits: ArchiveLimits = {}): Promise<Record<string, unknown>> {
  const resolved = withDefaults(limits);
  const zip = await openZip(file);
  try {
    const allowed = new Set(['metadata.json', `info-${stem}.tar.zst`, `pkg-${stem}.tar.zst`]);
    const entries = new Map<string, yauzl.Entry>();
    await new Promise<void>((resolve, reject) => {
      zip.on('error', (error: Error) => reject(new BadRequestError(`Invalid conda package: ${error.message}.`)));
      zip.on('end', () => resolve());
      zip.on('entry', (entry: yauzl.Entry) => {
        try {
          checkEntryName(entry.fileName);
          if (!allowed.has(entry.fileName)) refuse(`unexpected entry ${JSON.stringify(entry.fileName)} (a .conda holds metadata.json, info-${stem}.tar.zst and pkg-${stem}.tar.zst)`);
          if (entries.has(entry.fileName)) refuse(`the entry ${JSON.stringify(entry.fileName)} appears twice`);
          if (entry.isEncrypted()) refuse(`the entry ${JSON.stringify(entry.fileName)} is encrypted`);
          if (((entry.externalFileAttributes >>> 16) & S_IFMT) === S_IFLNK) refuse(`the entry ${JSON.stringify(entry.fileName)} is a symbolic link`);
          if (entry.uncompressedSize > resolved.maxExpandedBytes) refuse(`it expands to more than ${resolved.maxExpandedBytes} bytes`);
          entries.set(entry.fileName, entry);
          zip.readEntry();
        } catch (error) {
          reject(error);
        }
      });
      zip.readEntry();
    });
    const info = entries.get(`info-${stem}.tar.zst`);
    const pkg = entries.get(`pkg-${stem}.tar.zst`);
    if (!info) refuse(`info-${stem}.tar.zst is missing`);
    if (!pkg) refuse(`pkg-${stem}.tar.zst is missing`);
    const guard = new ExpansionGuard(resolved);
    const tarOf = async (entry: yauzl.Entry, capture: string | undefined) => {
      const stream = await new Promise<Readable>((resolve, reject) => zip.openReadStream(entry, (error, opened) => (error ? reject(new BadRequestError(`Invalid conda package: ${error.message}.`)) : resolve(opened))));
      try {
        return await scanTar([stream, guard.counter('compressed'), zstdDecompressor(), guard.counter('expanded')], guard, capture);
      } catch (error) {
        stream.destroy();
        asRefusal(error, `${entry.fileName} is not a tar.zst`);
      }
    };
    const index = parseIndex(await tarOf(info, 'info/index.json'));
    await tarOf(pkg, undefined);
    return index;
  } finally {
    zip.close();
  }
}

/**
 * {@link readCondaIndex} or {@link readTarBz2Index} in a worker thread, so that a large
 * package's decompression never holds the server's event loop; in this thread when the
 * worker's module is not beside this one (tests running the TypeScript sources).
 */
export async function readPackageIndex(file: string, condaStem: string | undefined, limits: ArchiveLimits = {}): Promise<Record<string, unknown>> {
  const workerFile = fileURLToPath(new URL('./archive-worker.js', import.meta.url));
  if (!existsSync(workerFile)) return condaStem !== undefined ? readCondaIndex(file, condaStem, limits) : readTarBz2Index(file, limits);
  const answer = await new Promise<{ ok: true; index: Record<string, unknown> } | { ok: false; status?: number; message: string }>((resolve, reject) => {
    // A bounded heap: whatever a hostile archive makes the decoders hold, it cannot take the server's memory.
    const worker = new Worker(workerFile, { workerData: { file, ...(condaStem !== undefined ? { condaStem } : {}), limits }, resourceLimits: { maxOldGenerationSizeMb: 256 } });
    let settled = false;
    worker.once('message', (message) => {
      settled = true;
      resolve(message);
      void worker.terminate();
    });
    worker.once('error', (error) => (settled ? undefined : reject(error)));
    worker.once('exit', (code) => (settled ? undefined : reject(new Error(`the archive check stopped (exit code ${code})`))));
  });
  if (answer.ok) return answer.index;
  if (answer.status === 413) throw new PayloadTooLargeError(answer.message);
  if (answer.status !== undefined && answer.status >= 400 && answer.status < 500) throw new BadRequestError(answer.message);
  throw new Error(answer.message);
}
