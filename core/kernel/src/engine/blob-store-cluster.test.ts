// Two nodes (two metadata stores on one PostgreSQL, two blob stores over one folder): a
// node deleting a blob's last reference and another node referencing the same bytes at
// the same moment must not leave a row pointing at deleted bytes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FsStorageDriver } from '@registry-core/storage-fs';
import { startPostgres, type TestPostgres } from '@registry-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetadataStore } from '../metadata/metadata-store.js';
import { BlobStore } from './blob-store.js';

describe('blob references across nodes on PostgreSQL', () => {
  let postgres: TestPostgres;
  let dir: string;
  const stores: MetadataStore[] = [];

  beforeAll(async () => {
    postgres = await startPostgres();
    dir = mkdtempSync(path.join(tmpdir(), 'rc-blob-cluster-'));
    const url = await postgres.createDatabase('blobs');
    for (let i = 0; i < 2; i++) stores.push(await MetadataStore.open({ type: 'postgres', url, poolSize: 3 }));
  }, 60_000);
  afterAll(async () => {
    for (const store of stores) await store.close();
    await postgres?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function node(metadata: MetadataStore, locked: boolean): BlobStore {
    const driver = new FsStorageDriver(path.join(dir, 'blobs'));
    return new BlobStore('default', driver, undefined, undefined, locked ? (key, work) => metadata.withClusterLock(key, work) : undefined);
  }

  async function race(locked: boolean): Promise<boolean> {
    const a = node(stores[0]!, locked);
    const b = node(stores[1]!, locked);
    const bytes = Buffer.from(`shared bytes ${locked} ${Math.random()}`);
    const first = await a.ingest(bytes);
    await a.commit(first, async () => undefined, async () => true);
    let references = 0;
    // Node A finds no reference and is about to delete; node B then references the bytes.
    let decided!: () => void;
    const aDecided = new Promise<void>((resolve) => (decided = resolve));
    let proceed!: () => void;
    const gate = new Promise<void>((resolve) => (proceed = resolve));
    const releasing = a.release(first.blobKey, async () => {
      const inUse = references > 0;
      decided();
      await gate;
      return inUse;
    });
    await aDecided;
    const second = await b.ingest(bytes);
    const committing = b.commit(second, async () => void references++, async () => references > 0);
    // Give B every chance to run ahead of A's delete when nothing stops it.
    await new Promise((resolve) => setTimeout(resolve, 300));
    proceed();
    await Promise.all([releasing, committing]);
    expect(references).toBe(1);
    return (await b.driver.head(second.blobKey)) !== undefined;
  }

  it('keeps the bytes a new row points at when a release on another node runs at the same time', async () => {
    expect(await race(true)).toBe(true);
  });

  it('loses them without the cluster lock (the race this lock closes)', async () => {
    expect(await race(false)).toBe(false);
  });
});
