// The metadata store's in-memory content rows: served for 10 s, then dropped. Before, an
// expired row stayed until 20,000 newer ones pushed it out (bench/soak.mjs: a publishing
// load filled the map within minutes and held it full of rows never served again).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MetadataStore } from './metadata-store.js';

describe('MetadataStore content rows in memory', () => {
  let dir: string;
  let metadata: MetadataStore;
  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'rc-rows-'));
    metadata = await MetadataStore.open({ type: 'sqlite', path: path.join(dir, 'db.sqlite') });
  });
  afterEach(async () => {
    vi.useRealTimers();
    await metadata.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const save = (assetPath: string) =>
    metadata.saveAsset({ repository: 'r', path: assetPath, kind: 'content', storage: 'default', blobKey: `k/${assetPath}`, size: 1, md5: '', sha1: '', sha256: '', sha512: '', contentType: 'application/octet-stream', attributes: '{}', createdAt: 0, updatedAt: 0, lastDownloadedAt: null, expiresAt: null, upstreamEtag: null, upstreamLastModified: null });

  it('drops rows past their TTL instead of holding them until the map is full', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    for (let i = 0; i < 50; i++) await save(`a/${i}`);
    for (let i = 0; i < 50; i++) expect(await metadata.findAsset('r', `a/${i}`)).not.toBeNull();
    expect(metadata.contentRowCount).toBe(50);
    // Past the TTL, the next row kept finds the expired ones and drops them.
    vi.setSystemTime(Date.now() + 11_000);
    await save('b/0');
    expect(await metadata.findAsset('r', 'b/0')).not.toBeNull();
    expect(metadata.contentRowCount).toBe(1);
    // An expired row read again is read from the database and kept anew.
    expect((await metadata.findAsset('r', 'a/7'))?.path).toBe('a/7');
    expect(metadata.contentRowCount).toBe(2);
  });
});
