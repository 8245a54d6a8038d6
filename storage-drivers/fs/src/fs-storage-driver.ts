import { createHash, randomUUID } from 'node:crypto';
import type { Dirent, Stats } from 'node:fs';
import { link, lstat, mkdir, open, readdir, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type {
  ByteRange,
  StorageDriver,
  StorageListPage,
  StorageObjectInfo,
  StoragePutOptions,
} from '@registry-core/api';
import { errorCode, FsStorageError } from './storage-error.js';
import { assertValidKey, compareKeys, isValidKeySegment, splitListPrefix, TEMP_DIR_NAME } from './storage-key.js';

/** Bytes of incoming chunks gathered into one write. */
const WRITE_BATCH_BYTES = 1024 * 1024;

/** Page size of {@link FsStorageDriver.list} when the caller gives none. */
export const DEFAULT_LIST_LIMIT = 1000;

/** Age after which {@link FsStorageDriver.init} removes an abandoned upload. */
export const DEFAULT_TEMP_MAX_AGE_MS = 60 * 60 * 1000;

const SHA256_HEX = /^[0-9a-f]{64}$/i;

/** Read size of object streams. */
const READ_BUFFER_BYTES = 1024 * 1024;

/**
 * A {@link StorageDriver} over a folder of the local filesystem. A key is a relative path
 * under the root. Uploads go to `<root>/.tmp/` first and become visible with one
 * `rename` (or `link` for create-only puts), so readers never see a partial object.
 */
export class FsStorageDriver implements StorageDriver {
  /** Absolute folder that holds the objects. */
  readonly root: string;
  /** Absolute folder of uploads in progress; on the same filesystem as the objects. */
  readonly tempDir: string;

  /** nginx location prefix for `X-Accel-Redirect` (starts and ends with `/`), when configured. */
  readonly accelRedirect: string | undefined;

  constructor(root: string, options: { accelRedirect?: string } = {}) {
    if (typeof root !== 'string' || !isAbsolute(root)) {
      throw new TypeError(`FsStorageDriver needs an absolute root folder, got ${JSON.stringify(root)}`);
    }
    const accel = options.accelRedirect;
    if (accel !== undefined && (!/^\/(?:[A-Za-z0-9._~-]+\/)+$/.test(accel) || accel.split('/').some((s) => s === '.' || s === '..'))) {
      throw new TypeError(`accelRedirect must be an nginx location path such as "/_registry_blobs/", got ${JSON.stringify(accel)}`);
    }
    this.root = resolve(root);
    this.tempDir = join(this.root, TEMP_DIR_NAME);
    this.accelRedirect = accel;
  }

  /**
   * Create the root and temp folders and remove uploads abandoned by a crash. Optional
   * for direct use (folders are also created on demand); the plugin calls it once.
   */
  async init(options: { tempMaxAgeMs?: number } = {}): Promise<void> {
    await mkdir(this.tempDir, { recursive: true });
    await this.cleanTemp(options.tempMaxAgeMs ?? DEFAULT_TEMP_MAX_AGE_MS);
  }

  /** Remove temp files older than `maxAgeMs`; resolve how many were removed. */
  async cleanTemp(maxAgeMs: number = DEFAULT_TEMP_MAX_AGE_MS): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.tempDir);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return 0;
      throw error;
    }
    const cutoff = Date.now() - maxAgeMs;
    let removed = 0;
    for (const name of names) {
      const path = join(this.tempDir, name);
      try {
        const stats = await lstat(path);
        if (stats.mtimeMs < cutoff) {
          await rm(path, { recursive: true, force: true });
          removed++;
        }
      } catch (error) {
        // Another process may have finished or removed it meanwhile.
        if (errorCode(error) !== 'ENOENT') throw error;
      }
    }
    return removed;
  }

  async put(key: string, body: Readable, options: StoragePutOptions = {}): Promise<StorageObjectInfo> {
    assertValidKey(key);
    const expectedSize = options.size;
    if (expectedSize !== undefined && !(Number.isSafeInteger(expectedSize) && expectedSize >= 0)) {
      throw new FsStorageError('EINVAL', `expected size must be a non-negative integer, got ${String(expectedSize)}`);
    }
    const expectedSha256 = options.sha256?.toLowerCase();
    if (expectedSha256 !== undefined && !SHA256_HEX.test(expectedSha256)) {
      throw new FsStorageError('EINVAL', 'expected sha256 must be 64 hex digits');
    }

    const finalPath = this.pathOf(key);
    const tempPath = join(this.tempDir, `${randomUUID()}.part`);
    let handle: FileHandle | undefined;
    try {
      handle = await this.openTempFile(tempPath);
      // Hashed only to check an expected digest: the kernel hashes what it ingests itself.
      const hash = expectedSha256 !== undefined ? createHash('sha256') : undefined;
      let size = 0;
      const file = handle;
      // Counted as they arrive, so a body longer than announced stops at once...
      const counter = new Transform({
        transform(chunk: Buffer | string, encoding, callback) {
          const buffer = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk;
          size += buffer.length;
          if (expectedSize !== undefined && size > expectedSize) {
            callback(new FsStorageError('EINTEGRITY', `${key}: more than the expected ${expectedSize} bytes`));
            return;
          }
          hash?.update(buffer);
          callback(null, buffer);
        },
      });
      // ...and written in batches: chunks that arrive while a write is in flight go out
      // together (one writev of up to a megabyte, not a system call per 64 KiB socket read).
      const sink = new Writable({
        highWaterMark: WRITE_BATCH_BYTES,
        writev(chunks: { chunk: Buffer }[], callback) {
          writeAll(file, chunks.map((c) => c.chunk)).then(() => callback(), callback);
        },
      });
      await pipeline(body, counter, sink);
      await handle.sync();
      const stats = await handle.stat();
      await handle.close();
      handle = undefined;

      if (expectedSize !== undefined && size !== expectedSize) {
        throw new FsStorageError('EINTEGRITY', `${key}: got ${size} bytes, expected ${expectedSize}`);
      }
      const sha256 = hash?.digest('hex');
      if (expectedSha256 !== undefined && sha256 !== expectedSha256) {
        throw new FsStorageError('EINTEGRITY', `${key}: sha256 ${sha256} does not match the expected ${expectedSha256}`);
      }

      const parent = dirname(finalPath);
      const firstCreated = await mkdir(parent, { recursive: true });
      if (options.createOnly) {
        try {
          // link() fails when the target exists, so two create-only puts cannot both win.
          await link(tempPath, finalPath);
        } catch (error) {
          if (errorCode(error) === 'EEXIST') {
            throw new FsStorageError('EEXIST', `${key} already exists`, { cause: error });
          }
          throw error;
        }
        // The object is visible now; a temp link left behind is swept by cleanTemp().
        await unlink(tempPath).catch(() => undefined);
      } else {
        await rename(tempPath, finalPath);
      }
      await syncCreatedDirs(parent, firstCreated);
      return { key, size, lastModified: stats.mtime };
    } catch (error) {
      await handle?.close().catch(() => undefined);
      await rm(tempPath, { force: true }).catch(() => undefined);
      throw error;
    }
  }

  async get(key: string, range?: ByteRange): Promise<Readable | undefined> {
    assertValidKey(key);
    if (range !== undefined) assertValidRange(range);
    let handle: FileHandle;
    try {
      handle = await open(this.pathOf(key), 'r');
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    let size: number;
    try {
      // Opening a folder succeeds on Linux; a folder is an intermediate key, not an object.
      const stats = await handle.stat();
      if (!stats.isFile()) {
        await handle.close();
        return undefined;
      }
      size = stats.size;
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
    // The open handle pins this version of the object even if it is replaced meanwhile (an
    // object is replaced by a rename, never written in place: its size stays what stat said).
    // Reads of up to 1 MiB: a large artifact streams in a sixteenth of the default's system
    // calls. The stream is told where the object ends: Node's file stream allocates each read's
    // whole size before it reads, then copies a shorter read into a buffer of its own, and
    // learns of the end from one more read. Without the end, each small file served cost two
    // 1 MiB allocations (garbage at once, but counted against V8's external memory until a
    // collection) and a copy; with it, one allocation of the file's size.
    const start = range?.start ?? 0;
    const end = Math.min(range?.end ?? Infinity, size - 1);
    // Nothing to read (an empty object, a range past its end): an empty stream that closes the handle.
    if (end < start) return handle.createReadStream({ highWaterMark: 1, start: size, end: size });
    return handle.createReadStream({ highWaterMark: Math.min(READ_BUFFER_BYTES, end - start + 1), start, end });
  }

  async head(key: string): Promise<StorageObjectInfo | undefined> {
    assertValidKey(key);
    let stats: Stats;
    try {
      stats = await stat(this.pathOf(key));
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    if (!stats.isFile()) return undefined;
    return { key, size: stats.size, lastModified: stats.mtime };
  }

  async delete(key: string): Promise<boolean> {
    assertValidKey(key);
    const path = this.pathOf(key);
    try {
      await unlink(path);
      return true;
    } catch (error) {
      if (isMissing(error)) return false;
      // unlink() of a folder is EISDIR on Linux and EPERM on macOS.
      if (errorCode(error) === 'EPERM' && (await lstat(path).catch(() => undefined))?.isDirectory()) return false;
      throw error;
    }
  }

  async move(from: string, to: string): Promise<void> {
    assertValidKey(from);
    assertValidKey(to);
    const source = this.pathOf(from);
    const target = this.pathOf(to);
    // rename() would happily move a whole folder; only objects may move.
    const stats = await lstat(source).catch((error: unknown) => {
      if (isMissing(error)) return undefined;
      throw error;
    });
    if (!stats?.isFile()) throw new FsStorageError('ENOENT', `cannot move ${from}: no such object`);
    if (from === to) return;
    const parent = dirname(target);
    const firstCreated = await mkdir(parent, { recursive: true });
    try {
      await rename(source, target);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') {
        throw new FsStorageError('ENOENT', `cannot move ${from}: no such object`, { cause: error });
      }
      throw error;
    }
    await syncCreatedDirs(parent, firstCreated);
    if (dirname(source) !== parent) await syncDir(dirname(source));
  }

  async list(prefix: string, options: { cursor?: string; limit?: number } = {}): Promise<StorageListPage> {
    const { folder } = splitListPrefix(prefix);
    const limit = options.limit ?? DEFAULT_LIST_LIMIT;
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new FsStorageError('EINVAL', `list limit must be a positive integer, got ${String(limit)}`);
    }
    const cursor = options.cursor;
    if (cursor !== undefined && typeof cursor !== 'string') {
      throw new FsStorageError('EINVAL', 'list cursor must be a string');
    }

    // One more than a page tells whether another page follows.
    const keys: string[] = [];
    for await (const key of this.walk(folder, prefix, cursor)) {
      keys.push(key);
      if (keys.length > limit) break;
    }
    if (keys.length > limit) {
      keys.length = limit;
      return { keys, cursor: keys[limit - 1] };
    }
    return { keys };
  }

  /**
   * With `accelRedirect` set: the object's path under that nginx location, which maps to
   * this driver's root (`alias <root>/;`).
   */
  internalRedirectPath(key: string): string | undefined {
    if (this.accelRedirect === undefined) return undefined;
    assertValidKey(key);
    return `${this.accelRedirect}${key.split('/').map(encodeURIComponent).join('/')}`;
  }

  async close(): Promise<void> {
    // Nothing is held open between calls.
  }

  /** The absolute path of a key that {@link assertValidKey} accepted. */
  private pathOf(key: string): string {
    return join(this.root, ...key.split('/'));
  }

  private async openTempFile(path: string): Promise<FileHandle> {
    try {
      return await open(path, 'wx');
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
      await mkdir(this.tempDir, { recursive: true });
      return await open(path, 'wx');
    }
  }

  /**
   * Yield the keys under `folder` (`''` or ending in `/`) that start with `prefix` and sort
   * after `cursor`, in {@link compareKeys} order, reading one folder at a time.
   */
  private async *walk(folder: string, prefix: string, cursor: string | undefined): AsyncGenerator<string> {
    let entries: Dirent[];
    try {
      entries = await readdir(folder === '' ? this.root : this.pathOf(folder.slice(0, -1)), { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    const items: { key: string; folder: boolean; sortKey: string }[] = [];
    for (const entry of entries) {
      if (!isValidKeySegment(entry.name)) continue;
      if (folder === '' && entry.name === TEMP_DIR_NAME) continue;
      const key = folder + entry.name;
      // A folder's keys all start with `name/`, which is where the folder sorts among its siblings.
      if (entry.isDirectory()) items.push({ key, folder: true, sortKey: `${key}/` });
      else if (entry.isFile()) items.push({ key, folder: false, sortKey: key });
    }
    items.sort((a, b) => compareKeys(a.sortKey, b.sortKey));

    for (const item of items) {
      if (item.folder) {
        const sub = item.sortKey;
        if (!sub.startsWith(prefix) && !prefix.startsWith(sub)) continue;
        // Every key of this folder sorts before the cursor: skip without reading it.
        if (cursor !== undefined && compareKeys(sub, cursor) < 0 && !cursor.startsWith(sub)) continue;
        yield* this.walk(sub, prefix, cursor);
      } else {
        if (!item.key.startsWith(prefix)) continue;
        if (cursor !== undefined && compareKeys(item.key, cursor) <= 0) continue;
        yield item.key;
      }
    }
  }
}

function isMissing(error: unknown): boolean {
  const code = errorCode(error);
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}

function assertValidRange(range: ByteRange): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || start < 0) {
    throw new FsStorageError('EINVAL', `range start must be a non-negative integer, got ${String(start)}`);
  }
  if (end !== undefined && (!Number.isSafeInteger(end) || end < start)) {
    throw new FsStorageError('EINVAL', `range end must be an integer not below the start, got ${String(end)}`);
  }
}

/** Write every buffer, in order, whatever a short write leaves. */
async function writeAll(file: FileHandle, buffers: Buffer[]): Promise<void> {
  let pending = buffers;
  while (pending.length > 0) {
    let { bytesWritten } = await file.writev(pending);
    const rest: Buffer[] = [];
    for (const buffer of pending) {
      if (bytesWritten >= buffer.length) bytesWritten -= buffer.length;
      else {
        rest.push(buffer.subarray(bytesWritten));
        bytesWritten = 0;
      }
    }
    pending = rest;
  }
}

/**
 * Make a new directory entry durable: fsync `parent` and, when `mkdir -p` created folders
 * (`firstCreated` is the top one), every folder up to the one that already existed.
 */
async function syncCreatedDirs(parent: string, firstCreated: string | undefined): Promise<void> {
  const stop = firstCreated === undefined ? parent : dirname(firstCreated);
  let dir = parent;
  for (;;) {
    await syncDir(dir);
    if (dir === stop || dirname(dir) === dir) return;
    dir = dirname(dir);
  }
}

/** fsync a folder where the platform allows it (not on Windows); best effort. */
async function syncDir(path: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'r');
    await handle.sync();
  } catch {
    // The data itself is already synced; a folder fsync is not possible everywhere.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
