import { mkdirSync, mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger } from '@registry-core/api';
import { FsStorageDriver } from '@registry-core/storage-fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CacheConfig } from '../config/types.js';
import { MetadataStore } from '../metadata/metadata-store.js';
import { RepositoryAssetStore } from './asset-store.js';
import { BlobStore } from './blob-store.js';
import { SingleFlight } from './keyed-mutex.js';
import { KernelProxyCache } from './proxy-cache.js';

const cache: CacheConfig = {
  metadataTtl: 60,
  negativeTtl: 60,
  connectTimeoutMs: 5000,
  upstreamTimeoutMs: 5000,
  idleTimeoutMs: 5000,
  transferTimeoutMs: 30_000,
  minTransferRate: 0,
  allowPrivateAddresses: true,
  staleWhileRevalidate: 0,
  honorCacheControl: false,
  retries: 0,
  breakerThreshold: 5,
  breakerOpenMs: 30_000,
};
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('proxy cache coalescing, on SQLite and the filesystem', () => {
  let dir: string;
  let metadata: MetadataStore;
  let upstream: Server;
  let hits = 0;
  const body = Buffer.alloc(64 * 1024, 7);

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'rc-coalesce-'));
    mkdirSync(path.join(dir, 'spool'));
    metadata = await MetadataStore.open({ type: 'sqlite', path: path.join(dir, 'db.sqlite') });
    hits = 0;
    // Headers at once, the body in two halves 600 ms apart: a download that is still
    // arriving when the second client comes.
    upstream = createServer((_req, res) => {
      hits++;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
      res.write(body.subarray(0, body.length / 2));
      setTimeout(() => res.end(body.subarray(body.length / 2)), 600);
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  });
  afterEach(async () => {
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
    await metadata.close();
  });

  it('a miss whose own flight starts after another flight handed its download to the tee joins that download, asking the upstream once', async () => {
    const blobs = new BlobStore('default', new FsStorageDriver(path.join(dir, 'blobs')));
    const assets = new RepositoryAssetStore('p', blobs, metadata);
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/`;
    const proxy = new KernelProxyCache('p', url, cache, assets, metadata, new SingleFlight(), quiet, undefined, path.join(dir, 'spool'));
    // Every negative-cache check takes 150 ms: the second client, 100 ms behind the first,
    // checks for a download under way before the first has started one, and reaches its
    // own flight after the first flight has ended (handing its download to the tee).
    const isNegativeCached = metadata.isNegativeCached.bind(metadata);
    metadata.isNegativeCached = async (...args) => {
      await sleep(150);
      return isNegativeCached(...args);
    };
    try {
      const request = { path: 'blobs/one', kind: 'content' as const };
      const first = proxy.serve(request);
      await sleep(100);
      const second = proxy.serve(request);
      const answers = await Promise.all([first, second]);
      for (const answer of answers) {
        expect(answer.found).toBe(true);
        if (answer.found) expect(answer.body.kind).toBe('incoming');
      }
      const [one] = answers;
      if (one.found && one.body.kind === 'incoming') await one.body.incoming.stored;
      expect(hits).toBe(1);
      // Stored once; the next request is a hit.
      const third = await proxy.fetch(request);
      expect(third.found && third.cache).toBe('HIT');
      expect(hits).toBe(1);
    } finally {
      metadata.isNegativeCached = isNegativeCached;
      await proxy.close();
    }
  });
});
