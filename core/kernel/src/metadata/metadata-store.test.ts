// The metadata store on the embedded SQLite and on a real PostgreSQL (started by the
// test): the conformance suite of @registry-core/testing on both, and the kernel's own
// migrations and audit table.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describeMetadataStoreConformance, startPostgres, type TestPostgres } from '@registry-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MetadataConfig } from '../config/types.js';
import { MetadataStore } from './metadata-store.js';

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
const engines: Record<string, () => Promise<MetadataConfig>> = {
  sqlite: async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rc-meta-'));
    dirs.push(dir);
    return { type: 'sqlite', path: path.join(dir, 'registry.sqlite') };
  },
  postgres: async () => ({ type: 'postgres', url: await postgres!.createDatabase(`rc_test_${++databases}`), poolSize: 5 }),
};

// The contract every engine passes (assets, documents, locks, components, key-values).
for (const engine of Object.keys(engines)) {
  describeMetadataStoreConformance(engine, async () => {
    const config = await engines[engine]!();
    return {
      store: await MetadataStore.open(config),
      openAnother: () => MetadataStore.open(config),
      multiNode: config.type === 'postgres',
      cleanup: async () => undefined,
    };
  });
}

// What is the kernel's own, beyond the contract: migrations and the audit table.
describe.each(Object.keys(engines))('metadata store on %s: migrations and audit', (engine) => {
  let store: MetadataStore;
  let config: MetadataConfig;

  beforeAll(async () => {
    config = await engines[engine]!();
    store = await MetadataStore.open(config);
  }, 60_000);
  afterAll(async () => {
    await store?.close();
  });

  it('with metadata.migrate false, refuses to start on a store needing migrations until they are run', async () => {
    const fresh = { ...(await engines[engine]!()), migrate: false };
    await expect(MetadataStore.open(fresh)).rejects.toThrow(/registry-core db migrate/);
    const migrating = await MetadataStore.open(fresh, { migrate: false, check: false });
    expect(await migrating.migrate()).toEqual(['InitialSchema1732406400000', 'AuditLog1764000000000', 'TokenScopes1764000100000']);
    expect(await migrating.migrate()).toEqual([]);
    await migrating.close();
    await (await MetadataStore.open(fresh)).close();
  });

  it('runs its migrations once: opening again changes nothing', async () => {
    const again = await MetadataStore.open(config);
    expect(await again.migrate()).toEqual([]);
    await again.close();
  });

  it('keeps audit events with millisecond times', async () => {
    await store.audit.insert({ at: 2_000_000_000_123, action: 'publish', outcome: 'ok', principal: 'amy', repository: 'r', package: 'p', version: '1.0.0', clientAddress: '::1', details: '{}' });
    expect(await store.audit.findOneBy({ principal: 'amy' })).toMatchObject({ at: 2_000_000_000_123, action: 'publish' });
  });
});
