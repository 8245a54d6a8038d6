import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DELETE_DOCUMENT, isRegistryError } from '@registry-core/api';
import { FsStorageDriver } from '@registry-core/storage-fs';
import { MetadataStore } from '../metadata/metadata-store.js';
import { RepositoryAssetStore } from './asset-store.js';
import { BlobStore, blobKeyFor } from './blob-store.js';
import { RepositoryComponentIndex } from './component-index.js';
import { CacheMaintenance } from './maintenance.js';
import { RepositoryDocumentStore } from './document-store.js';

describe('repository engine on SQLite and the filesystem', () => {
  let dir: string;
  let metadata: MetadataStore;
  let driver: FsStorageDriver;
  let blobs: BlobStore;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'rc-engine-'));
    metadata = await MetadataStore.open({ type: 'sqlite', path: path.join(dir, 'db.sqlite') });
    driver = new FsStorageDriver(path.join(dir, 'blobs'));
    blobs = new BlobStore('default', driver);
  });
  afterEach(async () => {
    await metadata.close();
  });

  it('stores identical bytes once across repositories and frees them with the last reference', async () => {
    const a = new RepositoryAssetStore('a', blobs, metadata);
    const b = new RepositoryAssetStore('b', blobs, metadata);
    const one = await a.put('x/file.bin', Buffer.from('same bytes'), { kind: 'content', contentType: 'application/octet-stream' });
    await b.put('y/other.bin', Readable.from([Buffer.from('same '), Buffer.from('bytes')]), { kind: 'content', contentType: 'application/octet-stream' });
    const key = blobKeyFor(one.digests.sha256);
    expect((await driver.list('sha256/')).keys).toEqual([key]);
    // sha256 alone while storing; the others when first asked for.
    expect(one.digests.sha1).toBeUndefined();
    expect(await one.digest('sha1')).toBe(createHash('sha1').update('same bytes').digest('hex'));
    expect(one.size).toBe(10);
    await a.delete('x/file.bin');
    expect(await driver.head(key)).toBeDefined();
    await b.delete('y/other.bin');
    expect(await driver.head(key)).toBeUndefined();
  });

  it('refuses a digest mismatch and an oversized body, leaving nothing', async () => {
    const a = new RepositoryAssetStore('a', blobs, metadata);
    const bad = await a.put('f', Buffer.from('abc'), { kind: 'content', contentType: 'x/y', expect: { sha1: '0'.repeat(40) } }).catch((e: unknown) => e);
    expect(isRegistryError(bad) && bad.code).toBe('INTEGRITY_MISMATCH');
    const big = await a.put('g', Buffer.alloc(2048), { kind: 'content', contentType: 'x/y', maxBytes: 1024 }).catch((e: unknown) => e);
    expect(isRegistryError(big) && big.status).toBe(413);
    expect(await a.get('f')).toBeUndefined();
    expect(await a.get('g')).toBeUndefined();
    expect((await driver.list('')).keys).toEqual([]);
  });

  it('sweeps staging objects an interrupted upload left behind, and only old ones', async () => {
    const { Readable: R } = await import('node:stream');
    await driver.put('staging/old-crash', R.from([Buffer.from('partial')]));
    expect(await blobs.sweepStaging(60_000)).toBe(0); // too recent: may be in flight
    expect(await blobs.sweepStaging(-1)).toBe(1);
    expect(await driver.head('staging/old-crash')).toBeUndefined();
  });

  it('answers a size mismatch as an integrity error, storing nothing', async () => {
    const a = new RepositoryAssetStore('a', blobs, metadata);
    const wrong = await a.put('s', Buffer.from('four'), { kind: 'content', contentType: 'x/y', expect: { size: 5 } }).catch((e: unknown) => e);
    expect(isRegistryError(wrong) && wrong.code).toBe('INTEGRITY_MISMATCH');
    expect(await a.get('s')).toBeUndefined();
  });

  it('evicts the least recently used proxy content over the size limit, never hosted content', async () => {
    const proxy = new RepositoryAssetStore('p', blobs, metadata);
    const hosted = new RepositoryAssetStore('h', blobs, metadata);
    for (const [i, name] of ['old', 'mid', 'new'].entries()) {
      await proxy.put(name, Buffer.alloc(100, i + 1), { kind: 'content', contentType: 'x/y' });
      await metadata.updateAsset('p', name, { lastDownloadedAt: Date.now() - (3 - i) * 1000 });
    }
    await hosted.put('precious', Buffer.alloc(100, 9), { kind: 'content', contentType: 'x/y' });
    const maintenance = new CacheMaintenance(metadata, new Map([['default', blobs]]), new Set(['p']), { debug() {}, info() {}, warn() {}, error() {}, child() { return this; } });
    const dry = await maintenance.clean({ unusedDays: 365, maxCacheBytes: { default: 250 }, dryRun: true });
    expect(dry).toMatchObject({ evictedForSize: 1, bytesFreed: 100, dryRun: true });
    expect(await proxy.get('old')).toBeDefined();
    await maintenance.clean({ unusedDays: 365, maxCacheBytes: { default: 250 } });
    expect(await proxy.get('old')).toBeUndefined();
    expect(await proxy.get('mid')).toBeDefined();
    expect(await proxy.get('new')).toBeDefined();
    expect(await hosted.get('precious')).toBeDefined();
    const unused = await maintenance.clean({ unusedDays: 0 });
    expect(unused.unusedContent).toBe(2);
    expect(await hosted.get('precious')).toBeDefined();
  });

  it('redirects only when the store is configured to, and refuses a redirect its driver cannot sign', async () => {
    expect(() => new BlobStore('fs', driver, undefined, { minBytes: 0, expiresSeconds: 60 })).toThrow(/storage fs: "redirect" needs a driver that makes presigned download URLs/);
    const signed: unknown[] = [];
    const signing = Object.assign(Object.create(driver) as FsStorageDriver, {
      presignedGetUrl: async (key: string, seconds: number, options?: { contentType?: string }) => {
        signed.push([key, seconds, options]);
        return `https://store.example/${key}?sig`;
      },
    });
    const redirecting = new BlobStore('s', signing, undefined, { minBytes: 1000, expiresSeconds: 60 });
    expect(await redirecting.redirectUrl('sha256/ab/cd/x', 999, 'text/plain')).toBeUndefined();
    expect(await redirecting.redirectUrl('sha256/ab/cd/x', 1000, 'text/plain')).toBe('https://store.example/sha256/ab/cd/x?sig');
    expect(signed).toEqual([['sha256/ab/cd/x', 60, { contentType: 'text/plain' }]]);
    expect(await new BlobStore('plain', signing).redirectUrl('sha256/ab/cd/x', 10_000, 'text/plain')).toBeUndefined();
  });

  it('refuses createOnly over an existing asset', async () => {
    const a = new RepositoryAssetStore('a', blobs, metadata);
    await a.put('f', Buffer.from('1'), { kind: 'content', contentType: 'x/y', createOnly: true });
    const again = await a.put('f', Buffer.from('2'), { kind: 'content', contentType: 'x/y', createOnly: true }).catch((e: unknown) => e);
    expect(isRegistryError(again) && again.status).toBe(409);
    expect((await (await a.get('f'))!.read()).toString()).toBe('1');
  });

  it('serialises concurrent read-modify-write of one document', async () => {
    const docs = new RepositoryDocumentStore('a', metadata);
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        docs.update<{ versions: number[] }>('pkg', (current) => ({ versions: [...(current?.versions ?? []), i] })),
      ),
    );
    const stored = await docs.get<{ versions: number[] }>('pkg');
    expect(stored?.value.versions.sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(stored?.revision).toBe(20);
    await docs.update('pkg', () => DELETE_DOCUMENT);
    expect(await docs.get('pkg')).toBeUndefined();
  });

  it('searches components by name, keywords and description, one hit per name', async () => {
    const index = new RepositoryComponentIndex('a', metadata);
    await index.upsert({ name: 'left-pad', version: '1.0.0', attributes: { description: 'pads strings' } });
    await index.upsert({ name: 'left-pad', version: '1.1.0', attributes: { description: 'pads strings' } });
    await index.upsert({ name: '@team/logger', version: '2.0.0', attributes: { keywords: ['logging'] } });
    await index.upsert({ name: '100%_literal', version: '1.0.0' });
    expect((await index.search({ text: 'pad', limit: 10 })).items.map((c) => c.name)).toEqual(['left-pad']);
    expect((await index.search({ text: 'LOGGING', limit: 10 })).total).toBe(1);
    expect((await index.search({ text: '%_', limit: 10 })).items.map((c) => c.name)).toEqual(['100%_literal']);
    expect((await index.search({ text: '', limit: 1, offset: 1 })).total).toBe(3);
    expect(await index.remove('left-pad')).toBe(2);
  });
});
