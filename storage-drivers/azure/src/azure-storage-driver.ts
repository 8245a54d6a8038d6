import { createHash } from 'node:crypto';
import { PassThrough, Transform, type Readable } from 'node:stream';
import {
  BlobSASPermissions,
  ContainerClient,
  RestError,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
  type UserDelegationKey,
} from '@azure/storage-blob';
import type { ByteRange, PresignedGetOptions, StorageDriver, StorageListPage, StorageObjectInfo, StoragePutOptions } from '@registry-core/api';

/** Options of {@link AzureStorageDriver}, validated by the driver definition. */
export interface AzureDriverOptions {
  readonly container: ContainerClient;
  /** Present with account-key credentials: signs SAS URLs (copies, client redirects). */
  readonly sharedKey?: StorageSharedKeyCredential;
  /**
   * Present with Microsoft Entra ID credentials: a user delegation key (cached by the
   * caller) to sign read-only SAS URLs for client redirects.
   */
  readonly delegationKey?: () => Promise<{ readonly key: UserDelegationKey; readonly accountName: string }>;
  /** Key prefix inside the container (ends with `/`), or empty. */
  readonly prefix: string;
  /** Size of staged blocks. */
  readonly blockSize: number;
  /** Blocks uploaded at once per blob. */
  readonly concurrency: number;
}

/** Service version of user-delegation SAS URLs (see presignedGetUrl). */
const DELEGATION_SAS_VERSION = '2025-11-05';

function driverError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

const INVALID_SEGMENT = (s: string) => s === '' || s === '.' || s === '..' || s.includes('\\') || s.includes('\0');

function assertKey(key: string): void {
  if (typeof key !== 'string' || key === '' || key.startsWith('/') || key.split('/').some(INVALID_SEGMENT)) {
    throw driverError('EINVALIDKEY', `invalid storage key ${JSON.stringify(key)}`);
  }
}

const statusOf = (error: unknown) => (error instanceof RestError ? error.statusCode : (error as { statusCode?: number }).statusCode);

/**
 * Blobs in an Azure Storage container. A put stages blocks while the bytes are counted
 * and hashed, and commits the block list only when the whole body arrived and matched
 * what was expected: until the commit nothing is visible, and a failed put leaves the
 * blob as it was. A create-only put commits with `If-None-Match: *`.
 */
export class AzureStorageDriver implements StorageDriver {
  constructor(private readonly options: AzureDriverOptions) {}

  /** Whether the container exists (a 403 throws: bad credentials or no permission). */
  async containerExists(): Promise<boolean> {
    return this.options.container.exists();
  }

  private blob(key: string) {
    assertKey(key);
    return this.options.container.getBlockBlobClient(`${this.options.prefix}${key}`);
  }

  async put(key: string, body: Readable, options: StoragePutOptions = {}): Promise<StorageObjectInfo> {
    const blob = this.blob(key);
    const expectedSha = options.sha256?.toLowerCase();
    if (expectedSha !== undefined && !/^[0-9a-f]{64}$/.test(expectedSha)) throw driverError('EINTEGRITY', `invalid expected sha256 ${options.sha256}`);
    const hash = createHash('sha256');
    let size = 0;
    let failure: Error | undefined;
    const checked = new Transform({
      transform(chunk: Buffer | string, _encoding, callback) {
        const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        size += buffer.length;
        if (options.size !== undefined && size > options.size) return callback(driverError('EINTEGRITY', `more than the expected ${options.size} bytes`));
        hash.update(buffer);
        callback(null, buffer);
      },
      flush(callback) {
        if (options.size !== undefined && size !== options.size) return callback(driverError('EINTEGRITY', `size is ${size} bytes, expected ${options.size}`));
        const actual = hash.digest('hex');
        if (expectedSha !== undefined && actual !== expectedSha) return callback(driverError('EINTEGRITY', `sha256 is ${actual}, expected ${expectedSha}`));
        callback();
      },
    });
    const fail = (error: Error) => {
      failure ??= error;
      checked.destroy(error);
    };
    body.on('error', fail);
    body.on('close', () => {
      if (!body.readableEnded) fail(new Error('the body was closed before its end'));
    });
    checked.on('error', (error) => (failure ??= error));
    const source = body.pipe(checked).pipe(new PassThrough());
    checked.on('error', (error) => source.destroy(error));
    const started = Date.now();
    try {
      await blob.uploadStream(source, this.options.blockSize, this.options.concurrency, {
        ...(options.contentType ? { blobHTTPHeaders: { blobContentType: options.contentType } } : {}),
        ...(options.createOnly ? { conditions: { ifNoneMatch: '*' } } : {}),
      });
    } catch (error) {
      body.unpipe(checked);
      if (!body.destroyed) body.resume();
      if (failure) throw failure;
      const status = statusOf(error);
      if (options.createOnly && (status === 409 || status === 412)) throw driverError('EEXIST', `${key} already exists`);
      // Another put of this key committed while ours was staging: Azure then drops our
      // uncommitted blocks. The key holds that writer's complete version, as if ours had
      // been overwritten at once (last writer wins); anything else is a real failure.
      if ((error as { code?: string }).code === 'InvalidBlockList' && !options.createOnly) {
        const now = await this.head(key);
        if (now && now.lastModified.getTime() >= Math.floor(started / 1000) * 1000) return { key, size: now.size, lastModified: now.lastModified };
      }
      throw error;
    }
    if (failure) throw failure;
    return { key, size, lastModified: new Date() };
  }

  async get(key: string, range?: ByteRange): Promise<Readable | undefined> {
    const blob = this.blob(key);
    try {
      if (range) {
        const info = await blob.getProperties();
        const total = Number(info.contentLength ?? 0);
        if (range.start >= total) return new PassThrough().end() as unknown as Readable;
        const end = Math.min(range.end ?? total - 1, total - 1);
        const answer = await blob.download(range.start, end - range.start + 1);
        return answer.readableStreamBody as Readable;
      }
      const answer = await blob.download();
      return answer.readableStreamBody as Readable;
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  async head(key: string): Promise<StorageObjectInfo | undefined> {
    try {
      const info = await this.blob(key).getProperties();
      return { key, size: Number(info.contentLength ?? 0), lastModified: info.lastModified ?? new Date(0) };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  async delete(key: string): Promise<boolean> {
    const answer = await this.blob(key).deleteIfExists();
    return answer.succeeded;
  }

  async move(from: string, to: string): Promise<void> {
    const source = this.blob(from);
    const target = this.blob(to);
    if (!(await this.head(from))) throw Object.assign(new Error(`${from} does not exist`), { code: 'ENOENT' });
    if (this.options.sharedKey) {
      // A server-side copy. The source is in the same account, so the Shared Key that signs
      // this request authorizes reading it: no SAS. (With one, Azurite 3.35 "validates" the
      // source by downloading it whole into a string and fails past 512 MiB.)
      const poller = await target.beginCopyFromURL(source.url);
      await poller.pollUntilDone();
    } else {
      // Without an account key (Microsoft Entra ID, or a SAS connection string): copy
      // through here, block by block, memory bounded.
      const body = await source.download();
      await target.uploadStream(body.readableStreamBody as Readable, this.options.blockSize, this.options.concurrency);
    }
    await source.deleteIfExists();
  }

  async list(prefix: string, options: { cursor?: string; limit?: number } = {}): Promise<StorageListPage> {
    const limit = options.limit ?? 1000;
    const pages = this.options.container
      .listBlobsFlat({ prefix: `${this.options.prefix}${prefix}` })
      .byPage({ maxPageSize: limit, ...(options.cursor ? { continuationToken: options.cursor } : {}) });
    const page = (await pages.next()).value as { segment: { blobItems: { name: string }[] }; continuationToken?: string } | undefined;
    const keys = (page?.segment.blobItems ?? []).map((b) => b.name.slice(this.options.prefix.length));
    return { keys, ...(page?.continuationToken ? { cursor: page.continuationToken } : {}) };
  }

  /**
   * A read-only SAS URL: signed with the account key, or with a user delegation key under
   * Microsoft Entra ID; `undefined` with a connection string holding only a SAS.
   */
  async presignedGetUrl(key: string, expiresInSeconds: number, options: PresignedGetOptions = {}): Promise<string | undefined> {
    const blob = this.blob(key);
    const values = {
      containerName: blob.containerName,
      blobName: blob.name,
      permissions: BlobSASPermissions.parse('r'),
      startsOn: new Date(Date.now() - 60_000),
      expiresOn: new Date(Date.now() + expiresInSeconds * 1000),
      ...(options.contentType ? { contentType: options.contentType } : {}),
    };
    if (this.options.sharedKey) return `${blob.url}?${generateBlobSASQueryParameters(values, this.options.sharedKey).toString()}`;
    if (!this.options.delegationKey) return undefined;
    const delegation = await this.options.delegationKey();
    // A SAS cannot outlive the key that signs it.
    const expiresOn = new Date(Math.min(values.expiresOn.getTime(), delegation.key.signedExpiresOn.getTime()));
    // Signed as service version 2025-11-05: Azure accepts SAS of older versions, and the
    // SDK's newer default (2026-04-06) signs fields that Azurite 3.35 does not know yet.
    const sas = generateBlobSASQueryParameters({ ...values, expiresOn, version: DELEGATION_SAS_VERSION }, delegation.key, delegation.accountName);
    return `${blob.url}?${sas.toString()}`;
  }
}
