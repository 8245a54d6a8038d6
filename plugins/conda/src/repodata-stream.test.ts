import type { RepositoryServices } from '@registry-core/api';
import { describe, expect, it } from 'vitest';
import type { PackageRecord, Repodata } from './repodata.js';
import { collectRepodata, mergeSources } from './repodata-stream.js';

const record = (name: string, version: string): PackageRecord => ({ name, version, build: '0', build_number: 0, depends: [], subdir: 'noarch', md5: '0'.repeat(32), sha256: '0'.repeat(64), size: 1 });
const channel = (records: PackageRecord[]): Repodata => ({
  info: { subdir: 'noarch' },
  packages: {},
  'packages.conda': Object.fromEntries(records.map((r) => [`${r.name}-${r.version}-0.conda`, r])),
  removed: [],
  repodata_version: 1,
});

describe('a group merge of repodata', () => {
  // Clients that match names without case (mamba 2, CEP 29) would take an upstream's `Foo`
  // beside the hosted `foo`: one name for the per-name rule.
  it('takes a name with capitals as the same name for the hosted-first rule', async () => {
    const hosted = { repodata: channel([record('rc-foo', '1.0')]), hosted: true };
    const upstream = { repodata: channel([record('RC-Foo', '9.0'), record('RC-Bar', '2.0')]), hosted: false };
    const merged = await collectRepodata(await mergeSources({} as RepositoryServices, [hosted, upstream]), 'noarch');
    expect(Object.keys(merged['packages.conda']).sort()).toEqual(['RC-Bar-2.0-0.conda', 'rc-foo-1.0-0.conda']);
  });
});
