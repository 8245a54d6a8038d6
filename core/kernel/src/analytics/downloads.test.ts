// Download counting against the real metadata store, on SQLite and on PostgreSQL: counts held
// in memory add up per day with an upsert (two counters on one PostgreSQL, as two nodes,
// add to the same rows), a failed flush keeps its counts, retention removes old days, and
// the queries read what was written.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startPostgres, type TestPostgres } from '@registry-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StructuredLogger } from '../logging/logger.js';
import type { MetadataConfig } from '../config/types.js';
import { MetadataStore } from '../metadata/metadata-store.js';
import { DownloadCounter, type DownloadEvent } from './download-counter.js';
import { DownloadQueries } from './download-queries.js';
import { DownloadStore } from './download-store.js';

let postgres: TestPostgres | undefined;
const dirs: string[] = [];
let databases = 0;

beforeAll(async () => {
  postgres = await startPostgres();
}, 60_000);
afterAll(async () => {
  await postgres?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const configs: Record<'sqlite' | 'postgres', () => Promise<MetadataConfig>> = {
  sqlite: async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rc-downloads-'));
    dirs.push(dir);
    return { type: 'sqlite', path: path.join(dir, 'registry.sqlite') };
  },
  postgres: async () => ({ type: 'postgres', url: await postgres!.createDatabase(`rc_downloads_${++databases}`), poolSize: 3 }),
};

const logger = StructuredLogger.create('error', 'json');
const DAY = 86_400_000;
const event = (over: Partial<DownloadEvent> = {}): DownloadEvent => ({ repository: 'npm-proxy', format: 'npm', name: 'left-pad', version: '1.0.0', cache: 'HIT', bytes: 100, counted: true, ...over });

describe.each(['sqlite', 'postgres'] as const)('download counts on %s', (engine) => {
  it('adds up batches per day and version, from two counters on one store', async () => {
    const config = await configs[engine]();
    const a = await MetadataStore.open(config);
    const b = engine === 'postgres' ? await MetadataStore.open(config) : a;
    let now = Date.parse('2026-03-10T12:00:00Z');
    const clock = () => now;
    const nodeA = new DownloadCounter(new DownloadStore(a.dataSource), 60_000, logger, clock);
    const nodeB = new DownloadCounter(new DownloadStore(b.dataSource), 60_000, logger, clock);
    try {
      for (let i = 0; i < 3; i++) nodeA.record(event());
      nodeA.record(event({ cache: 'MISS', bytes: 40 }));
      nodeA.record(event({ version: '', counted: false, bytes: 7 }));
      nodeB.record(event({ version: '2.0.0' }));
      nodeB.record(event());
      expect(nodeA.pendingRows).toBe(3);
      await Promise.all([nodeA.flush(), nodeB.flush()]);
      expect(nodeA.pendingRows).toBe(0);
      now += DAY;
      nodeB.record(event({ repository: 'npm-local', cache: 'HOSTED', bytes: 50 }));
      nodeB.record(event({ name: 'other', format: 'npm' }));
      nodeA.record(event({ name: 'wheel', format: 'pypi', repository: 'pypi-proxy' }));
      await Promise.all([nodeA.close(), nodeB.close()]);

      const queries = new DownloadQueries(a.dataSource, clock);
      const since = '2026-03-10';
      const stats = await queries.package('left-pad', { since });
      expect(stats).toMatchObject({ downloads: 7, bytes: 300 + 40 + 7 + 100 + 100 + 50, cache: { HIT: 5, MISS: 1, STALE: 0, HOSTED: 1 } });
      expect(stats!.versions).toEqual([
        { version: '1.0.0', downloads: 6, bytes: 490 },
        { version: '2.0.0', downloads: 1, bytes: 100 },
      ]);
      expect(stats!.days).toEqual([
        { day: '2026-03-10', downloads: 6, bytes: 547 },
        { day: '2026-03-11', downloads: 1, bytes: 50 },
      ]);
      expect(await queries.top({ since }, 2)).toEqual([
        { format: 'npm', name: 'left-pad', downloads: 7, bytes: 597 },
        { format: 'npm', name: 'other', downloads: 1, bytes: 100 },
      ]);
      expect(await queries.top({ since, format: 'pypi' })).toEqual([{ format: 'pypi', name: 'wheel', downloads: 1, bytes: 100 }]);
      expect(await queries.top({ since, repositories: ['npm-local'] })).toEqual([{ format: 'npm', name: 'left-pad', downloads: 1, bytes: 50 }]);
      expect((await queries.package('left-pad', { since: '2026-03-11' }))!.downloads).toBe(1);
      const totals = await queries.totalsByRepository({ since });
      expect(totals.get('npm-proxy')).toMatchObject({ downloads: 7, upstreamSaved: 6 });

      // Retention: keeping 1 day on the 11th removes the 10th.
      const pruner = new DownloadCounter(new DownloadStore(a.dataSource), 60_000, logger, clock);
      expect(await pruner.pruneOlderThan(1)).toBeGreaterThan(0);
      expect((await queries.package('left-pad', { since }))!.days.map((d) => d.downloads)).toEqual([0, 1]);
    } finally {
      if (b !== a) await b.close();
      await a.close();
    }
  });

  it('counts replays on the day they happen, across midnight and flushes', async () => {
    const store = await MetadataStore.open(await configs[engine]());
    let now = Date.parse('2026-03-10T23:59:59Z');
    const counter = new DownloadCounter(new DownloadStore(store.dataSource), 60_000, logger, () => now);
    try {
      const replay = counter.repeater({ repository: 'npm-proxy', format: 'npm', name: 'left-pad', version: '1.0.0', cache: 'HIT', counted: true, assetPath: 'left-pad/-/left-pad-1.0.0.tgz' });
      replay(10);
      replay(10);
      await counter.flush();
      replay(10);
      now += 1_000; // 2026-03-11T00:00:00Z
      replay(5);
      counter.record(event({ bytes: 1 }));
      now -= 2_000; // a clock set back a little: the 10th again
      replay(10);
      await counter.close();
      const stats = await new DownloadQueries(store.dataSource, () => now + DAY).package('left-pad', { since: '2026-03-10' });
      expect(stats!.days).toEqual([
        { day: '2026-03-10', downloads: 4, bytes: 40 },
        { day: '2026-03-11', downloads: 2, bytes: 6 },
      ]);
    } finally {
      await store.close();
    }
  });

  it('keeps the counts of a failed flush for the next one', async () => {
    const store = await MetadataStore.open(await configs[engine]());
    const downloads = new DownloadStore(store.dataSource);
    let fail = true;
    const flaky = Object.assign(Object.create(downloads) as DownloadStore, {
      add: (rows: Parameters<DownloadStore['add']>[0]) => (fail ? Promise.reject(new Error('database away')) : downloads.add(rows)),
    });
    const counter = new DownloadCounter(flaky, 60_000, logger);
    try {
      counter.record(event());
      await counter.flush();
      expect(counter.pendingRows).toBe(1);
      counter.record(event());
      fail = false;
      await counter.flush();
      expect((await new DownloadQueries(store.dataSource).package('left-pad', {}))!.downloads).toBe(2);
    } finally {
      await store.close();
    }
  });
});
