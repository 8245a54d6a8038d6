import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isRegistryError } from '@registry-core/api';
import { FsStorageDriver } from '@registry-core/storage-fs';
import { MetadataStore } from '../metadata/metadata-store.js';
import { RepositoryAssetStore } from './asset-store.js';
import { BlobStore, blobKeyFor } from './blob-store.js';
import { KernelUploadSessions, UPLOAD_STORAGE_PREFIX, sweepUploads } from './upload-sessions.js';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const content = { kind: 'content' as const, contentType: 'application/octet-stream' };

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    return isRegistryError(error) ? `${error.status} ${error.code}` : String(error);
  }
}

describe('upload sessions and asset links', () => {
  let dir: string;
  let metadata: MetadataStore;
  let driver: FsStorageDriver;
  let blobs: BlobStore;
  let assets: RepositoryAssetStore;
  let uploads: KernelUploadSessions;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'rc-uploads-'));
    metadata = await MetadataStore.open({ type: 'sqlite', path: path.join(dir, 'db.sqlite') });
    driver = new FsStorageDriver(path.join(dir, 'blobs'));
    blobs = new BlobStore('default', driver);
    assets = new RepositoryAssetStore('r', blobs, metadata);
    uploads = new KernelUploadSessions('r', blobs, assets, metadata);
  });
  afterEach(async () => {
    await metadata.close();
  });

  it('moves a one-chunk upload under its content key without a copy', async () => {
    const session = await uploads.create({ image: 'a/b' });
    expect(session.id).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const after = await uploads.append(session.id, Readable.from([Buffer.from('hello '), Buffer.from('world')]));
    expect(after.size).toBe(11);
    const asset = await uploads.commit(session.id, 'a/b/blob', { ...content, expect: { sha256: sha256('hello world') } });
    expect(asset.size).toBe(11);
    expect(await driver.head(blobKeyFor(sha256('hello world')))).toBeDefined();
    expect((await driver.list(UPLOAD_STORAGE_PREFIX)).keys).toEqual([]);
    expect(await uploads.get(session.id)).toBeUndefined();
  });

  it('checks a digest a chunk was not hashed with by reading it once more (sha512), and computes others on demand', async () => {
    const sha512 = (t: string) => createHash('sha512').update(t).digest('hex');
    const session = await uploads.create();
    await uploads.append(session.id, Readable.from([Buffer.from('hello world')]));
    expect(await code(uploads.commit(session.id, 'x/bad', { ...content, expect: { sha512: sha512('other') } }))).toBe('400 INTEGRITY_MISMATCH');
    const asset = await uploads.commit(session.id, 'x/blob', { ...content, expect: { sha512: sha512('hello world') } });
    expect(asset.digests.sha512).toBe(sha512('hello world'));
    expect((await driver.list(UPLOAD_STORAGE_PREFIX)).keys).toEqual([]);
    // A digest nobody asked for is computed when first asked, and kept for every asset of the bytes.
    const md5 = createHash('md5').update('hello world').digest('hex');
    const plain = await assets.put('y/blob', Buffer.from('hello world'), { ...content, digests: [] });
    expect(await plain.digest('md5')).toBe(md5);
    expect((await metadata.findAsset('r', 'y/blob'))?.md5).toBe(md5);
  });

  it('joins chunks in order, refuses gaps and resends with 416, and verifies the whole', async () => {
    const session = await uploads.create();
    await uploads.append(session.id, Readable.from([Buffer.from('abc')]), { offset: 0 });
    expect(await code(uploads.append(session.id, Readable.from([Buffer.from('abc')]), { offset: 0 }))).toBe('416 RANGE_NOT_SATISFIABLE');
    expect(await code(uploads.append(session.id, Readable.from([Buffer.from('xyz')]), { offset: 5 }))).toBe('416 RANGE_NOT_SATISFIABLE');
    await uploads.append(session.id, Readable.from([Buffer.from('def')]), { offset: 3 });
    expect((await uploads.get(session.id))?.size).toBe(6);
    // A wrong digest leaves the session as it was.
    expect(await code(uploads.commit(session.id, 'x', { ...content, expect: { sha256: sha256('nope') } }))).toBe('400 INTEGRITY_MISMATCH');
    expect((await uploads.get(session.id))?.size).toBe(6);
    expect(await assets.get('x')).toBeUndefined();
    const asset = await uploads.commit(session.id, 'x', { ...content, expect: { sha256: sha256('abcdefghi') }, final: Readable.from([Buffer.from('ghi')]) });
    expect((await asset.read()).toString()).toBe('abcdefghi');
    expect((await driver.list(UPLOAD_STORAGE_PREFIX)).keys).toEqual([]);
  });

  it('answers unknown, malformed and cancelled sessions as unknown, and enforces the size limit', async () => {
    expect(await code(uploads.append('nosuchsessionnosuchsession', Readable.from([Buffer.from('x')])))).toBe('404 UPLOAD_UNKNOWN');
    expect(await code(uploads.append('../../etc', Readable.from([Buffer.from('x')])))).toBe('404 UPLOAD_UNKNOWN');
    const session = await uploads.create();
    expect(await code(uploads.append(session.id, Readable.from([Buffer.alloc(100)]), { maxBytes: 10 }))).toBe('413 PAYLOAD_TOO_LARGE');
    await uploads.append(session.id, Readable.from([Buffer.from('abc')]));
    expect(await uploads.cancel(session.id)).toBe(true);
    expect(await uploads.cancel(session.id)).toBe(false);
    expect((await driver.list(UPLOAD_STORAGE_PREFIX)).keys).toEqual([]);
    expect(await code(uploads.commit(session.id, 'y', content))).toBe('404 UPLOAD_UNKNOWN');
  });

  it('sweeps sessions untouched past the expiry with their chunks', async () => {
    const stale = await uploads.create();
    await uploads.append(stale.id, Readable.from([Buffer.from('old bytes')]));
    const live = await uploads.create();
    await new Promise((r) => setTimeout(r, 30));
    await uploads.append(live.id, Readable.from([Buffer.from('new bytes')]));
    // Everything older than 20 ms: the stale session only (the live one was just touched).
    const removed = await sweepUploads(metadata, () => uploads, [blobs], 20);
    expect(removed.sessions).toBe(1);
    expect(await uploads.get(stale.id)).toBeUndefined();
    expect((await uploads.get(live.id))?.size).toBe(9);
    expect((await driver.list(UPLOAD_STORAGE_PREFIX)).keys).toHaveLength(1);
  });

  it('links an asset into another repository without copying, and lists assets by prefix in pages', async () => {
    const source = await assets.put('img/_blobs/one', Buffer.from('shared'), content);
    const other = new RepositoryAssetStore('other', blobs, metadata);
    const linked = await other.link('img2/_blobs/one', source);
    expect(linked.digests.sha256).toBe(sha256('shared'));
    await assets.delete('img/_blobs/one');
    // The bytes stay: the link still references them.
    expect((await (await other.get('img2/_blobs/one'))!.read()).toString()).toBe('shared');
    for (const name of ['p/a', 'p/b', 'p/c', 'P/d', 'q/e']) await other.put(name, Buffer.from(name), content);
    const first = await other.list('p/', { limit: 2 });
    expect(first.assets.map((a) => a.path)).toEqual(['p/a', 'p/b']);
    const second = await other.list('p/', { limit: 2, after: first.next! });
    expect(second.assets.map((a) => a.path)).toEqual(['p/c']);
    expect(second.next).toBeUndefined();
  });
});
