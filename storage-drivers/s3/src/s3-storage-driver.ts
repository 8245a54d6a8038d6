import { createHash } from 'node:crypto';
import { PassThrough, Transform, pipeline, type Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type PutObjectCommandInput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { ByteRange, PresignedGetOptions, StorageDriver, StorageListPage, StorageObjectInfo, StoragePutOptions } from '@registry-core/api';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Largest object a single CopyObject request copies (an S3 limit). */
export const MAX_COPY_OBJECT_BYTES = 5 * GiB;
/** Longest lifetime of a SigV4 presigned URL (an S3 limit). */
export const MAX_PRESIGNED_URL_SECONDS = 7 * 24 * 3600;
/** Longest object key S3 accepts, in UTF-8 bytes (prefix included). */
const MAX_KEY_BYTES = 1024;

/** Options of {@link S3StorageDriver}, validated by the driver definition. */
export interface S3DriverOptions {
  readonly client: S3Client;
  /** Signs presigned URLs when clients reach the store at another address (`publicEndpoint`). */
  readonly presignClient?: S3Client;
  readonly bucket: string;
  /** Key prefix inside the bucket (ends with `/`), or empty. */
  readonly prefix: string;
  /** Size of multipart upload parts (at least 5 MiB). */
  readonly partSize: number;
  /** Parts uploaded at once per put (memory ≈ partSize × (queueSize + 1)). */
  readonly queueSize: number;
  /** Longest lifetime given to a presigned URL; 0 turns presigned URLs off. */
  readonly presignedUrlTtl: number;
  /** Send `If-None-Match: *` on create-only puts (stores without conditional writes may refuse it). */
  readonly conditionalWrites: boolean;
  /**
   * Objects larger than this are moved by streaming them through this process instead of
   * one CopyObject request. Default and most: 5 GiB, the CopyObject limit (tests lower it).
   */
  readonly copyObjectLimit?: number;
}

export type S3StorageErrorCode = 'EINVALIDKEY' | 'EINTEGRITY' | 'EEXIST' | 'ENOENT' | 'EINVAL';

/** An error with a stable `code`, thrown by {@link S3StorageDriver}. */
export class S3StorageError extends Error {
  constructor(
    readonly code: S3StorageErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'S3StorageError';
  }
}

const INVALID_SEGMENT = (s: string) => s === '' || s === '.' || s === '..' || s.includes('\\') || s.includes('\0');

/** HTTP status of an AWS SDK error, when it has one. */
export function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

/** S3's error code (`NoSuchKey`, `AccessDenied`, …) of an AWS SDK error. */
export function s3CodeOf(error: unknown): string | undefined {
  const e = error as { Code?: unknown; name?: unknown } | undefined;
  if (typeof e?.Code === 'string') return e.Code;
  return typeof e?.name === 'string' ? e.name : undefined;
}

const isNotFound = (error: unknown) => statusOf(error) === 404 || s3CodeOf(error) === 'NoSuchKey' || s3CodeOf(error) === 'NotFound';

/** `a/b c/d+e` → `a/b%20c/d%2Be`: a key as the `x-amz-copy-source` header wants it. */
function encodeKeyPath(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

/** The `length` bytes of `source` after its first `skip` bytes; stops reading `source` then. */
function sliceStream(source: Readable, skip: number, length: number): Readable {
  let toSkip = skip;
  let left = length;
  const slice = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      let part = chunk;
      if (toSkip > 0) {
        const skipped = Math.min(toSkip, part.length);
        toSkip -= skipped;
        part = part.subarray(skipped);
      }
      if (part.length > left) part = part.subarray(0, left);
      left -= part.length;
      if (part.length > 0) this.push(part);
      callback();
      if (left === 0 && !done) {
        done = true;
        source.unpipe(slice);
        source.destroy();
        slice.end();
      }
    },
  });
  let done = false;
  source.on('error', (error) => {
    if (!done) slice.destroy(error);
  });
  source.pipe(slice);
  return slice;
}

/**
 * Blobs in an S3 bucket (AWS S3 or an S3-compatible store: MinIO, Ceph, R2, emulators).
 *
 * A put streams the body through a counting, hashing Transform into lib-storage's
 * `Upload` (one PutObject for a body smaller than a part, else a multipart upload). The
 * Transform fails the stream before its end when the size or sha256 differs from what
 * was expected, so the last PutObject / CompleteMultipartUpload is never sent: S3 makes
 * an object visible only when that request succeeds, and a failed multipart upload is
 * aborted (AbortMultipartUpload). Readers therefore see the old object or the new one.
 *
 * Create-only puts send `If-None-Match: *` (atomic on AWS S3, MinIO, R2) and, for stores
 * that ignore that header, check with HEAD first while holding a per-key lock of this
 * process: on such stores two processes can still both create one key.
 */
export class S3StorageDriver implements StorageDriver {
  private readonly createLocks = new Map<string, Promise<void>>();

  constructor(private readonly options: S3DriverOptions) {}

  get client(): S3Client {
    return this.options.client;
  }

  /** HeadBucket: throws the SDK's error (404 missing bucket, 403 refused, 301 wrong region). */
  async checkBucket(): Promise<void> {
    await this.options.client.send(new HeadBucketCommand({ Bucket: this.options.bucket }));
  }

  /** The object key inside the bucket of a storage key, after checking the key. */
  private objectKey(key: string): string {
    if (typeof key !== 'string' || key === '' || key.startsWith('/') || key.split('/').some(INVALID_SEGMENT)) {
      throw new S3StorageError('EINVALIDKEY', `invalid storage key ${JSON.stringify(key)}`);
    }
    const full = `${this.options.prefix}${key}`;
    if (Buffer.byteLength(full, 'utf8') > MAX_KEY_BYTES) throw new S3StorageError('EINVALIDKEY', `storage key too long for S3 (${MAX_KEY_BYTES} bytes with the prefix): ${JSON.stringify(key)}`);
    return full;
  }

  async put(key: string, body: Readable, options: StoragePutOptions = {}): Promise<StorageObjectInfo> {
    const objectKey = this.objectKey(key);
    if (options.size !== undefined && (!Number.isSafeInteger(options.size) || options.size < 0)) {
      throw new S3StorageError('EINVAL', `expected size must be a non-negative integer, got ${String(options.size)}`);
    }
    if (options.sha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(options.sha256)) throw new S3StorageError('EINVAL', 'expected sha256 must be 64 hex digits');
    if (!options.createOnly) return this.upload(key, objectKey, body, options);
    return this.exclusive(objectKey, async () => {
      if (await this.head(key)) throw new S3StorageError('EEXIST', `${key} already exists`);
      return this.upload(key, objectKey, body, options);
    });
  }

  /** Run `fn` after every earlier create-only put of `objectKey` in this process ended. */
  private async exclusive<T>(objectKey: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.createLocks.get(objectKey) ?? Promise.resolve();
    let release!: () => void;
    const mine = previous.then(() => new Promise<void>((resolve) => (release = resolve)));
    this.createLocks.set(objectKey, mine);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.createLocks.get(objectKey) === mine) this.createLocks.delete(objectKey);
    }
  }

  private async upload(key: string, objectKey: string, body: Readable, options: StoragePutOptions): Promise<StorageObjectInfo> {
    const expectedSha = options.sha256?.toLowerCase();
    const expectedSize = options.size;
    const hash = createHash('sha256');
    let size = 0;
    let failure: Error | undefined;
    const checked = new Transform({
      transform(chunk: Buffer | string, _encoding, callback) {
        const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        size += buffer.length;
        if (expectedSize !== undefined && size > expectedSize) {
          return callback(new S3StorageError('EINTEGRITY', `more than the expected ${expectedSize} bytes`));
        }
        hash.update(buffer);
        callback(null, buffer);
      },
      // Runs before the stream ends, so before Upload can send its last request.
      flush(callback) {
        if (expectedSize !== undefined && size !== expectedSize) {
          return callback(new S3StorageError('EINTEGRITY', `size is ${size} bytes, expected ${expectedSize}`));
        }
        const actual = hash.digest('hex');
        if (expectedSha !== undefined && actual !== expectedSha) {
          return callback(new S3StorageError('EINTEGRITY', `sha256 is ${actual}, expected ${expectedSha}`));
        }
        callback();
      },
    });
    checked.on('error', (error) => (failure ??= error));
    // A source that errors or closes early destroys `checked` with that error (or a
    // premature-close error), which fails the upload before it completes.
    pipeline(body, checked, (error) => {
      if (error) failure ??= error;
    });
    const params: PutObjectCommandInput = {
      Bucket: this.options.bucket,
      Key: objectKey,
      Body: checked,
      ...(options.contentType ? { ContentType: options.contentType } : {}),
      ...(options.createOnly && this.options.conditionalWrites ? { IfNoneMatch: '*' } : {}),
    };
    const upload = new Upload({
      client: this.options.client,
      params,
      partSize: this.options.partSize,
      queueSize: this.options.queueSize,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (error) {
      // The stream's own failure (the source broke, or the bytes were not the expected
      // ones) explains more than the upload's; take it before destroying the stream.
      const cause = failure;
      if (!checked.destroyed) checked.destroy();
      if (cause) throw cause;
      const status = statusOf(error);
      if (options.createOnly && (status === 412 || s3CodeOf(error) === 'PreconditionFailed' || s3CodeOf(error) === 'ConditionalRequestConflict')) {
        throw new S3StorageError('EEXIST', `${key} already exists`, { cause: error });
      }
      throw error;
    }
    if (failure) throw failure;
    return { key, size, lastModified: new Date() };
  }

  async get(key: string, range?: ByteRange): Promise<Readable | undefined> {
    const objectKey = this.objectKey(key);
    let header: string | undefined;
    if (range) {
      const { start, end } = range;
      if (!Number.isSafeInteger(start) || start < 0) throw new S3StorageError('EINVAL', `range start must be a non-negative integer, got ${String(start)}`);
      if (end !== undefined && (!Number.isSafeInteger(end) || end < start)) throw new S3StorageError('EINVAL', `range end must be an integer not below the start, got ${String(end)}`);
      header = `bytes=${start}-${end ?? ''}`;
    }
    try {
      const answer = await this.options.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: objectKey, ...(header ? { Range: header } : {}) }));
      const body = answer.Body as Readable;
      if (!range) return body;
      // HTTP lets a server ignore a Range (200, whole object), and some S3 emulators serve
      // more than asked (s3rver answers bytes=0-0 with everything): cut what came locally.
      const served = answer.ContentRange ? /^bytes (\d+)-(\d+)\//.exec(answer.ContentRange) : null;
      const servedStart = served ? Number(served[1]) : 0;
      const servedEnd = served ? Number(served[2]) : Number(answer.ContentLength ?? 0) - 1;
      if (servedStart === range.start && (range.end === undefined || servedEnd <= range.end)) return body;
      if (servedStart > range.start) {
        body.destroy();
        throw new Error(`the store answered the range ${header} with ${answer.ContentRange ?? 'the whole object'}`);
      }
      return sliceStream(body, range.start - servedStart, range.end === undefined ? Infinity : range.end - range.start + 1);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      // A range that starts at or past the end of an existing object: nothing to send.
      if (statusOf(error) === 416 || s3CodeOf(error) === 'InvalidRange') return new PassThrough().end() as unknown as Readable;
      throw error;
    }
  }

  async head(key: string): Promise<StorageObjectInfo | undefined> {
    const objectKey = this.objectKey(key);
    try {
      const info = await this.options.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: objectKey }));
      return { key, size: Number(info.ContentLength ?? 0), lastModified: info.LastModified ?? new Date(0) };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** S3 answers 204 whether or not the key existed: a HEAD first tells which. */
  async delete(key: string): Promise<boolean> {
    const objectKey = this.objectKey(key);
    if (!(await this.head(key))) return false;
    await this.options.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: objectKey }));
    return true;
  }

  /**
   * S3 has no rename: a server-side CopyObject (atomic at the target: it appears whole),
   * then a DeleteObject of the source. Objects over the CopyObject limit (5 GiB) are
   * streamed through this process into a multipart upload instead.
   */
  async move(from: string, to: string): Promise<void> {
    const source = this.objectKey(from);
    const target = this.objectKey(to);
    const info = await this.head(from);
    if (!info) throw new S3StorageError('ENOENT', `${from} does not exist`);
    if (info.size > Math.min(this.options.copyObjectLimit ?? MAX_COPY_OBJECT_BYTES, MAX_COPY_OBJECT_BYTES)) {
      const body = await this.get(from);
      if (!body) throw new S3StorageError('ENOENT', `${from} does not exist`);
      await this.upload(to, target, body, { size: info.size });
    } else {
      try {
        await this.options.client.send(
          new CopyObjectCommand({ Bucket: this.options.bucket, Key: target, CopySource: `${this.options.bucket}/${encodeKeyPath(source)}` }),
        );
      } catch (error) {
        if (isNotFound(error)) throw new S3StorageError('ENOENT', `${from} does not exist`, { cause: error });
        throw error;
      }
    }
    await this.options.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: source }));
  }

  /**
   * ListObjectsV2 from `StartAfter`: the cursor is the last key of the page, so listing
   * goes on after it even when that key was deleted meanwhile.
   */
  async list(prefix: string, options: { cursor?: string; limit?: number } = {}): Promise<StorageListPage> {
    if (typeof prefix !== 'string' || prefix.includes('\0') || prefix.includes('\\') || prefix.startsWith('/')) {
      throw new S3StorageError('EINVALIDKEY', `invalid list prefix ${JSON.stringify(prefix)}`);
    }
    const limit = options.limit ?? 1000;
    if (!Number.isSafeInteger(limit) || limit < 1) throw new S3StorageError('EINVAL', `list limit must be a positive integer, got ${String(limit)}`);
    if (options.cursor !== undefined && typeof options.cursor !== 'string') throw new S3StorageError('EINVAL', 'list cursor must be a string');
    const answer = await this.options.client.send(
      new ListObjectsV2Command({
        Bucket: this.options.bucket,
        Prefix: `${this.options.prefix}${prefix}`,
        MaxKeys: Math.min(limit, 1000),
        ...(options.cursor ? { StartAfter: `${this.options.prefix}${options.cursor}` } : {}),
      }),
    );
    const keys = (answer.Contents ?? []).map((object) => object.Key!.slice(this.options.prefix.length));
    const last = keys.at(-1);
    return { keys, ...(answer.IsTruncated && last !== undefined ? { cursor: last } : {}) };
  }

  /** A SigV4 presigned GET URL, living at most `presignedUrlTtl` seconds (0: off). */
  async presignedGetUrl(key: string, expiresInSeconds: number, options: PresignedGetOptions = {}): Promise<string | undefined> {
    const objectKey = this.objectKey(key);
    if (this.options.presignedUrlTtl === 0) return undefined;
    const expiresIn = Math.max(1, Math.min(Math.floor(expiresInSeconds), this.options.presignedUrlTtl));
    const command = new GetObjectCommand({ Bucket: this.options.bucket, Key: objectKey, ...(options.contentType ? { ResponseContentType: options.contentType } : {}) });
    return getSignedUrl(this.options.presignClient ?? this.options.client, command, { expiresIn });
  }

  async close(): Promise<void> {
    this.options.client.destroy();
    this.options.presignClient?.destroy();
  }
}
