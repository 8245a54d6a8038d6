// The metadata store against the conformance suite of @registry-core/testing, on the
// embedded SQLite and on a real PostgreSQL (started by the test), plus what is the
// kernel's own: how `MetadataStore.open` treats pending migrations.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describeMetadataStoreConformance, startPostgres, type TestPostgres } from '@registry-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MetadataConfig } from '../config/types.js';
import { MetadataStore } from './metadata-store.js';
import { MIGRATIONS } from './migrations.js';

let postgres: TestPostgres | undefined;
const dirs: string[] = [];

beforeAll(async () => {
  postgres = await startPostgres();
}, 60_000);
afterAll(async () => {
  await postgres?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

let databases = 0;
const engines: Record<'sqlite' | 'postgres', () => Promise<{ config: MetadataConfig; drop(): Promise<void> }>> = {
  sqlite: async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rc-meta-'));
    dirs.push(dir);
    return { config: { type: 'sqlite', path: path.join(dir, 'registry.sqlite') }, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  },
  postgres: async () => {
    const name = `rc_test_${++databases}`;
    const url = await postgres!.createDatabase(name);
    return { config: { type: 'postgres', url, poolSize: 5 }, drop: () => postgres!.dropDatabase(name) };
  },
};

const migrations = MIGRATIONS.map((m) => new m().name);

for (const engine of ['sqlite', 'postgres'] as const) {
  describeMetadataStoreConformance(engine, async () => {
    const { config, drop } = await engines[engine]();
    return {
      open: (options) => MetadataStore.open(config, options?.migrate === false ? { migrate: false, check: false } : {}),
      migrations,
      multiNode: engine === 'postgres',
      cleanup: drop,
    };
  });
}

describe.each(['sqlite', 'postgres'] as const)('MetadataStore.open on %s', (engine) => {
  it('with metadata.migrate false, refuses to start on a store needing migrations until they are run', async () => {
    const { config, drop } = await engines[engine]();
    const fresh = { ...config, migrate: false };
    try {
      await expect(MetadataStore.open(fresh)).rejects.toThrow(/registry-core db migrate/);
      const migrating = await MetadataStore.open(fresh, { migrate: false, check: false });
      expect(await migrating.migrate()).toEqual(migrations);
      await migrating.close();
      await (await MetadataStore.open(fresh)).close();
    } finally {
      await drop();
    }
  });
});

describe.each(['sqlite', 'postgres'] as const)('MetadataStore.committedElsewhere on %s', (engine) => {
  /** The first answer that is `wanted`, asking again as a node's hot path would (PostgreSQL answers from a background probe). */
  const until = async (store: MetadataStore, wanted: boolean): Promise<boolean> => {
    for (let i = 0; i < 200; i++) {
      if (store.committedElsewhere() === wanted) return wanted;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return !wanted;
  };

  it("reports another process's commit, and nothing once it was reported", async () => {
    const { config, drop } = await engines[engine]();
    const a = await MetadataStore.open(config);
    const b = await MetadataStore.open(config);
    try {
      expect(a.committedElsewhere()).toBe(true);
      // (PostgreSQL's WAL position is the whole server's: other databases' writes move it too,
      // so only that a change is reported is checked there.)
      if (engine === 'sqlite') expect(a.committedElsewhere()).toBe(false);
      await b.setValue('test', 'k', 'v1');
      expect(await until(a, true)).toBe(true);
      if (engine === 'sqlite') {
        expect(a.committedElsewhere()).toBe(false);
        // Its own commits are not another's (this process tells them with onChange).
        await a.setValue('test', 'k', 'v2');
        expect(a.committedElsewhere()).toBe(false);
      }
    } finally {
      await a.close();
      await b.close();
      await drop();
    }
  });
});
