import { createHash } from 'node:crypto';
import { PassThrough, Readable, Transform, pipeline } from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import { CRC32C, type File, type FileMetadata, type Storage } from '@google-cloud/storage';
import type { ByteRange, PresignedGetOptions, StorageDriver, StorageListPage, StorageObjectInfo, StoragePutOptions } from '@registry-core/api';

/** Longest lifetime of a V4 signed URL (a GCS limit). */
export const MAX_SIGNED_URL_SECONDS = 7 * 24 * 3600;
/** Longest object name GCS accepts, in UTF-8 bytes (prefix included). */
const MAX_NAME_BYTES = 1024;
/** Resumable upload chunks (all but the last) are multiples of this (a GCS rule). */
export const CHUNK_MULTIPLE = 256 * 1024;

/** The permissions the driver needs on the bucket, checked at start. */
export const REQUIRED_PERMISSIONS = ['storage.objects.create', 'storage.objects.get', 'storage.objects.list', 'storage.objects.delete'] as const;

/** Options of {@link GcsStorageDriver}, validated by the driver definition. */
export interface GcsDriverOptions {
  readonly storage: Storage;
  readonly bucket: string;
  /** Key prefix inside the bucket (ends with `/`), or empty. */
  readonly prefix: string;
  /** Bytes per resumable upload request (a multiple of 256 KiB). */
  readonly chunkSize: number;
  /** Bodies up to this many bytes go in one multipart (simple) upload; larger ones resumable. */
  readonly resumableThreshold: number;
  /** Longest lifetime given to a signed URL; 0 (or anonymous access, which cannot sign) turns signed URLs off. */
  readonly signedUrlTtl: number;
  /** IAM Credentials API endpoint for signBlob (`…/serviceAccounts/`), when not Google's. */
  readonly signingEndpoint?: string;
}

export type GcsStorageErrorCode = 'EINVALIDKEY' | 'EINTEGRITY' | 'EEXIST' | 'ENOENT' | 'EINVAL';

/** An error with a stable `code`, thrown by {@link GcsStorageDriver}. */
export class GcsStorageError extends Error {
  constructor(
    readonly code: GcsStorageErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GcsStorageError';
  }
}

const INVALID_SEGMENT = (s: string) => s === '' || s === '.' || s === '..' || s.includes('\\') || s.includes('\0') || s.includes('\r') || s.includes('\n');

/** HTTP status of an SDK error (ApiError `code`, a gaxios `response.status`, or a resumable upload's `code`). */
export function statusOf(error: unknown): number | undefined {
  const e = error as { code?: unknown; status?: unknown; response?: { status?: unknown } } | undefined;
  if (typeof e?.code === 'number') return e.code;
  if (typeof e?.response?.status === 'number') return e.response.status;
  if (typeof e?.status === 'number') return e.status;
  return undefined;
}

/** GCS's error reason (`notFound`, `forbidden`, `conditionNotMet`, …) of an SDK error. */
export function reasonOf(error: unknown): string | undefined {
  const e = error as { errors?: { reason?: unknown }[]; response?: { data?: { error?: { errors?: { reason?: unknown }[] } } } } | undefined;
  const reason = e?.errors?.[0]?.reason ?? e?.response?.data?.error?.errors?.[0]?.reason;
  return typeof reason === 'string' ? reason : undefined;
}

/** The object's checksums as GCS states them (base64), computed while the bytes go by. */
class Digests {
  readonly sha256 = createHash('sha256');
  readonly md5 = createHash('md5');
  readonly crc32c = new CRC32C();
  size = 0;
  update(data: Buffer): void {
    this.size += data.length;
    this.sha256.update(data);
    this.md5.update(data);
    this.crc32c.update(data);
  }
}

/**
 * Blobs in a Google Cloud Storage bucket, through `@google-cloud/storage`.
 *
 * A put streams the body through a Transform that counts and hashes it (sha256, md5,
 * crc32c) and fails before the stream's end when the size or sha256 is not what was
 * expected. A body of at most `resumableThreshold` bytes is held, checked, and sent in one
 * multipart upload carrying its crc32c and md5, which GCS verifies before it creates the
 * object. A larger body goes to a resumable upload session in `chunkSize` requests; GCS
 * creates the object only when the request carrying the last byte and the total size
 * succeeds, and the SDK sends that request only after the body ended, that is after the
 * Transform's checks passed. A failed put cancels its session. Readers therefore see the
 * old object or the new one. Create-only puts carry `ifGenerationMatch=0`, which GCS
 * checks when it creates the object: of two creators exactly one wins, across processes.
 */
export class GcsStorageDriver implements StorageDriver {
  constructor(private readonly options: GcsDriverOptions) {}

  get storage(): Storage {
    return this.options.storage;
  }

  private get bucket() {
    return this.options.storage.bucket(this.options.bucket);
  }

  /**
   * Which of the permissions the driver needs the credentials lack on the bucket
   * (buckets.testIamPermissions). Throws the SDK's error: 404 for a missing bucket.
   */
  async missingPermissions(): Promise<string[]> {
    const [held] = await this.bucket.iam.testPermissions([...REQUIRED_PERMISSIONS]);
    return REQUIRED_PERMISSIONS.filter((permission) => !held[permission]);
  }

  /** The object name inside the bucket of a storage key, after checking the key. */
  private objectName(key: string): string {
    if (typeof key !== 'string' || key === '' || key.startsWith('/') || key.split('/').some(INVALID_SEGMENT)) {
      throw new GcsStorageError('EINVALIDKEY', `invalid storage key ${JSON.stringify(key)}`);
    }
    const full = `${this.options.prefix}${key}`;
    if (Buffer.byteLength(full, 'utf8') > MAX_NAME_BYTES) throw new GcsStorageError('EINVALIDKEY', `storage key too long for GCS (${MAX_NAME_BYTES} bytes with the prefix): ${JSON.stringify(key)}`);
    if (full.startsWith('.well-known/acme-challenge/')) throw new GcsStorageError('EINVALIDKEY', `GCS refuses object names under .well-known/acme-challenge/: ${JSON.stringify(key)}`);
    return full;
  }

  private file(name: string, generation?: string | number): File {
    return generation === undefined ? this.bucket.file(name) : this.bucket.file(name, { generation });
  }

  async put(key: string, body: Readable, options: StoragePutOptions = {}): Promise<StorageObjectInfo> {
    const name = this.objectName(key);
    if (options.size !== undefined && (!Number.isSafeInteger(options.size) || options.size < 0)) {
      throw new GcsStorageError('EINVAL', `expected size must be a non-negative integer, got ${String(options.size)}`);
    }
    if (options.sha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(options.sha256)) throw new GcsStorageError('EINVAL', 'expected sha256 must be 64 hex digits');
    const expectedSha = options.sha256?.toLowerCase();
    const expectedSize = options.size;
    const digests = new Digests();
    const checked = new Transform({
      transform(chunk: Buffer | string, _encoding, callback) {
        const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        if (expectedSize !== undefined && digests.size + buffer.length > expectedSize) {
          return callback(new GcsStorageError('EINTEGRITY', `more than the expected ${expectedSize} bytes`));
        }
        digests.update(buffer);
        callback(null, buffer);
      },
      // Runs before the stream ends, so before any upload can be completed.
      flush(callback) {
        if (expectedSize !== undefined && digests.size !== expectedSize) {
          return callback(new GcsStorageError('EINTEGRITY', `size is ${digests.size} bytes, expected ${expectedSize}`));
        }
        const actual = digests.sha256.digest('hex');
        if (expectedSha !== undefined && actual !== expectedSha) return callback(new GcsStorageError('EINTEGRITY', `sha256 is ${actual}, expected ${expectedSha}`));
        callback();
      },
    });
    let failure: Error | undefined;
    // A source that errors or closes early destroys `checked` with that error (or a
    // premature-close error), which fails the upload before it completes.
    pipeline(body, checked, (error) => {
      if (error) failure ??= error;
    });
    const source = checked[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const head: Buffer[] = [];
    let headBytes = 0;
    let ended = false;
    try {
      while (headBytes <= this.options.resumableThreshold) {
        const next = await source.next();
        if (next.done) {
          ended = true;
          break;
        }
        head.push(next.value);
        headBytes += next.value.length;
      }
    } catch (error) {
      throw failure ?? error;
    }
    const preconditionOpts = options.createOnly ? { ifGenerationMatch: 0 } : undefined;
    const contentType = options.contentType ?? 'application/octet-stream';
    const file = this.file(name);
    try {
      if (ended) {
        // Whole and checked: one request, which GCS verifies against the crc32c and md5.
        await file.save(Buffer.concat(head, headBytes), {
          resumable: false,
          validation: false,
          metadata: { contentType, crc32c: digests.crc32c.toString(), md5Hash: digests.md5.copy().digest('base64') },
          ...(preconditionOpts ? { preconditionOpts } : {}),
        });
      } else {
        await this.resumable(file, head, source, contentType, preconditionOpts);
      }
    } catch (error) {
      if (!checked.destroyed) checked.destroy();
      // The stream's own failure (the source broke, or the bytes were not the expected
      // ones) explains more than the upload's.
      if (failure) throw failure;
      if (error instanceof GcsStorageError) throw error;
      if (options.createOnly && statusOf(error) === 412) throw new GcsStorageError('EEXIST', `${key} already exists`, { cause: error });
      throw error;
    }
    if (failure) throw failure;
    const stored = file.metadata as FileMetadata;
    await this.verifyStored(key, file, stored, digests);
    return { key, size: digests.size, lastModified: stored.updated ? new Date(stored.updated) : new Date() };
  }

  /**
   * A resumable upload of `head` then the rest of `source`, `chunkSize` bytes a request.
   * The session is cancelled when the upload fails, so its bytes never become an object.
   */
  private async resumable(file: File, head: Buffer[], source: AsyncIterator<Buffer>, contentType: string, preconditionOpts?: { ifGenerationMatch: number }): Promise<void> {
    // The session is opened here rather than by createWriteStream: the SDK's write stream
    // sends no credentials to a custom apiEndpoint outside Google's domains (7.22), while
    // createResumableUpload honours useAuthWithCustomEndpoint. The chunk requests need none:
    // a session URI authorizes itself.
    const [session] = await file.createResumableUpload({ metadata: { contentType }, ...(preconditionOpts ? { preconditionOpts } : {}) });
    const upload = file.createWriteStream({
      uri: session,
      resumable: true,
      chunkSize: this.options.chunkSize,
      validation: false,
      metadata: { contentType },
      ...(preconditionOpts ? { preconditionOpts } : {}),
    });
    const rest = Readable.from(
      (async function* () {
        yield* head.splice(0);
        for (;;) {
          const next = await source.next();
          if (next.done) return;
          yield next.value;
        }
      })(),
      { objectMode: false },
    );
    try {
      await pipelineAsync(rest, upload);
    } catch (error) {
      await cancelSession(session);
      throw error;
    }
  }

  /**
   * GCS states the crc32c and md5 of what it stored: compare them with what was sent. A
   * mismatch (bytes changed on the way) removes that generation only, and fails the put.
   */
  private async verifyStored(key: string, file: File, stored: FileMetadata, digests: Digests): Promise<void> {
    const crc32c = digests.crc32c.toString();
    const md5 = digests.md5.digest('base64');
    const wrong = (stored.crc32c !== undefined && stored.crc32c !== crc32c) || (stored.md5Hash !== undefined && stored.md5Hash !== md5);
    if (Number(stored.size) !== digests.size || wrong) {
      if (stored.generation !== undefined) await file.delete({ ifGenerationMatch: stored.generation }).catch(() => undefined);
      throw new GcsStorageError('EINTEGRITY', `GCS stored ${key} with size ${String(stored.size)}, crc32c ${String(stored.crc32c)}, md5 ${String(stored.md5Hash)}; sent ${digests.size} bytes, crc32c ${crc32c}, md5 ${md5}`);
    }
  }

  async get(key: string, range?: ByteRange): Promise<Readable | undefined> {
    const name = this.objectName(key);
    if (range) {
      const { start, end } = range;
      if (!Number.isSafeInteger(start) || start < 0) throw new GcsStorageError('EINVAL', `range start must be a non-negative integer, got ${String(start)}`);
      if (end !== undefined && (!Number.isSafeInteger(end) || end < start)) throw new GcsStorageError('EINVAL', `range end must be an integer not below the start, got ${String(end)}`);
    }
    // Whole objects are checked against the crc32c GCS sends (x-goog-hash) as they stream;
    // a mismatch errors the stream at its end. Ranges cannot be checked.
    const stream = this.file(name).createReadStream(
      range ? { start: range.start, ...(range.end !== undefined ? { end: range.end } : {}), validation: false, decompress: false } : { validation: 'crc32c', decompress: false },
    );
    return new Promise<Readable | undefined>((resolve, reject) => {
      const onResponse = (response: { statusCode?: number; status?: number }) => {
        const status = response.statusCode ?? response.status ?? 0;
        if (status < 200 || status > 299) return; // the SDK errors the stream with the body's message
        stream.off('error', onError);
        resolve(stream);
      };
      const onError = (error: unknown) => {
        stream.off('response', onResponse);
        const status = statusOf(error);
        if (status === 404) resolve(undefined);
        // A range that starts at or past the end of an existing object: nothing to send.
        else if (status === 416) resolve(new PassThrough().end() as unknown as Readable);
        else reject(error);
      };
      stream.on('response', onResponse);
      stream.once('error', onError);
      // The SDK sends the request when the stream is first read.
      stream.read(0);
    });
  }

  async head(key: string): Promise<StorageObjectInfo | undefined> {
    const name = this.objectName(key);
    try {
      const [metadata] = await this.file(name).getMetadata();
      return { key, size: Number(metadata.size ?? 0), lastModified: metadata.updated ? new Date(metadata.updated) : new Date(0) };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  async delete(key: string): Promise<boolean> {
    const name = this.objectName(key);
    try {
      await this.file(name).delete();
      return true;
    } catch (error) {
      if (statusOf(error) === 404) return false;
      throw error;
    }
  }

  /**
   * GCS has no rename for flat buckets: a server-side rewrite of the source's current
   * generation to the target (atomic at the target; large or cross-location rewrites take
   * several calls, each continuing from the previous call's rewrite token), then a delete
   * of that generation of the source.
   */
  async move(from: string, to: string): Promise<void> {
    const sourceName = this.objectName(from);
    const targetName = this.objectName(to);
    let generation: string | number | undefined;
    try {
      [{ generation }] = await this.file(sourceName).getMetadata();
    } catch (error) {
      if (statusOf(error) === 404) throw new GcsStorageError('ENOENT', `${from} does not exist`, { cause: error });
      throw error;
    }
    const source = this.file(sourceName, generation);
    try {
      await source.copy(this.file(targetName));
    } catch (error) {
      if (statusOf(error) === 404) throw new GcsStorageError('ENOENT', `${from} does not exist`, { cause: error });
      throw error;
    }
    try {
      await this.file(sourceName).delete({ ifGenerationMatch: generation });
    } catch (error) {
      // Gone already, or replaced by a newer object that is not ours to delete.
      if (statusOf(error) !== 404 && statusOf(error) !== 412) throw error;
    }
  }

  /**
   * objects.list from `startOffset`: the cursor is the last key of the page, so a listing
   * goes on after it even when that key was deleted meanwhile.
   */
  async list(prefix: string, options: { cursor?: string; limit?: number } = {}): Promise<StorageListPage> {
    if (typeof prefix !== 'string' || prefix.includes('\0') || prefix.includes('\\') || prefix.startsWith('/')) {
      throw new GcsStorageError('EINVALIDKEY', `invalid list prefix ${JSON.stringify(prefix)}`);
    }
    const limit = options.limit ?? 1000;
    if (!Number.isSafeInteger(limit) || limit < 1) throw new GcsStorageError('EINVAL', `list limit must be a positive integer, got ${String(limit)}`);
    if (options.cursor !== undefined && typeof options.cursor !== 'string') throw new GcsStorageError('EINVAL', 'list cursor must be a string');
    const fullPrefix = `${this.options.prefix}${prefix}`;
    const after = options.cursor === undefined ? undefined : `${this.options.prefix}${options.cursor}`;
    const names: string[] = [];
    let pageToken: string | undefined;
    // One key more than asked tells whether there is a next page; GCS may answer short
    // pages with a page token, so ask on until enough came or the listing ended.
    do {
      const [files, next] = await this.bucket.getFiles({
        prefix: fullPrefix,
        autoPaginate: false,
        maxResults: Math.min(limit + 1 - names.length + (after === undefined ? 0 : 1), 1000),
        ...(after !== undefined ? { startOffset: after } : {}),
        ...(pageToken !== undefined ? { pageToken } : {}),
      });
      for (const file of files) if (file.name !== after) names.push(file.name);
      pageToken = (next as { pageToken?: string } | null)?.pageToken;
    } while (pageToken !== undefined && names.length <= limit);
    const keys = names.slice(0, limit).map((name) => name.slice(this.options.prefix.length));
    const more = names.length > limit || pageToken !== undefined;
    return { keys, ...(more && keys.length > 0 ? { cursor: keys.at(-1)! } : {}) };
  }

  /**
   * A V4 signed GET URL, living at most `signedUrlTtl` seconds (0: off), answering with the
   * file's content type. Signed with the key file's private key, or, with Application
   * Default Credentials that hold no key, by the IAM Credentials API's signBlob.
   */
  async presignedGetUrl(key: string, expiresInSeconds: number, options: PresignedGetOptions = {}): Promise<string | undefined> {
    const name = this.objectName(key);
    if (this.options.signedUrlTtl === 0) return undefined;
    const seconds = Math.max(1, Math.min(Math.floor(expiresInSeconds), this.options.signedUrlTtl));
    const [url] = await this.file(name).getSignedUrl({
      version: 'v4',
      action: 'read',
      expires: Date.now() + seconds * 1000,
      ...(options.contentType ? { responseType: options.contentType } : {}),
      ...(this.options.signingEndpoint !== undefined ? { signingEndpoint: this.options.signingEndpoint } : {}),
    });
    return url;
  }

  async close(): Promise<void> {
    // The SDK keeps no connections of its own beyond the agent's keep-alive sockets.
  }
}

/** Cancel a resumable upload session (a DELETE of its URI, which authorizes itself). */
async function cancelSession(uri: string): Promise<void> {
  try {
    const answer = await fetch(uri, { method: 'DELETE', headers: { 'content-length': '0' } });
    await answer.arrayBuffer();
  } catch {
    // Best effort: an abandoned session never becomes an object and expires after a week.
  }
}
