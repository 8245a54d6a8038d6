// What `changeset version` and `pnpm publish` will do with the workspace's package.json files,
// checked without publishing: every public package ships only built files with their types,
// says where it comes from, and a minor release of the plugin contract does not drag every
// plugin into a major release.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
// changesets' own planner, the one `changeset status` and `changeset version` run
const fromCli = createRequire(createRequire(path.join(root, 'package.json')).resolve('@changesets/cli/package.json'));
// (@manypkg/get-packages is changesets' dependency, not the tests': its shape, as used here.)
interface WorkspacePackage {
  readonly dir: string;
  readonly relativeDir: string;
  readonly packageJson: { readonly name: string; readonly version: string; readonly private?: boolean };
}
const { getPackages } = fromCli('@manypkg/get-packages') as { getPackages: (dir: string) => Promise<{ packages: WorkspacePackage[]; root: WorkspacePackage; tool: unknown }> };
const { read: readConfig } = fromCli('@changesets/config') as { read: (dir: string, packages: unknown) => Promise<any> };
const assembleReleasePlan = (fromCli('@changesets/assemble-release-plan') as { default: (...args: unknown[]) => any }).default;

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  [key: string]: any;
}

async function workspace() {
  const packages = await getPackages(root);
  const config = await readConfig(root, packages);
  const publics = packages.packages.filter((p) => !(p.packageJson as Manifest).private);
  return { packages, config, publics };
}

describe('release metadata', () => {
  it('every public package ships built output, types, README and LICENSE, and says where it comes from', async () => {
    const { publics } = await workspace();
    expect(publics.map((p) => p.packageJson.name)).toContain('registry-core');
    expect(publics.map((p) => p.packageJson.name)).toContain('@registry-core/testing');
    for (const { packageJson, dir } of publics) {
      const relativeDir = path.relative(root, dir);
      const pkg = packageJson as Manifest;
      const where = `${pkg.name} (${relativeDir})`;
      expect(pkg.license, where).toBe('Apache-2.0');
      expect(pkg.engines?.node, where).toBe('>=20.19');
      expect(pkg.publishConfig?.access, where).toBe('public');
      expect(pkg.repository?.directory, where).toBe(relativeDir.split(path.sep).join('/'));
      expect(pkg.repository?.url, where).toMatch(/^git\+https:\/\//);
      expect(pkg.homepage, where).toMatch(/^https:\/\//);
      expect(pkg.types, where).toBe('./dist/index.d.ts');
      expect(pkg.exports?.['.'], where).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' });
      expect(pkg.files, where).toEqual(expect.arrayContaining(['dist', 'README.md', 'LICENSE']));
      // (The CLI also ships the template of `registry-core plugin new`.)
      const allowed = ['bin', 'dist', '!dist/**/*.map', 'README.md', 'LICENSE', ...(pkg.name === 'registry-core' ? ['templates'] : [])];
      expect(pkg.files.filter((f: string) => !allowed.includes(f)), where).toEqual([]);
      expect(pkg.scripts?.prepack, where).toContain('LICENSE');
      // a peer range is what a third party's install is checked against: no workspace protocol
      // (pnpm would rewrite it to the api version of the day, tighter than the plugin needs)
      for (const range of Object.values<string>(pkg.peerDependencies ?? {})) {
        expect(range, where).not.toMatch(/^(workspace|link|file):/);
      }
      // the plugin contract's peer range matches the manifest's apiVersion the host checks
      if (pkg.peerDependencies?.['@registry-core/api'] && pkg.registryCore?.apiVersion) {
        expect(pkg.peerDependencies['@registry-core/api'], where).toBe(pkg.registryCore.apiVersion);
      }
      for (const kind of ['dependencies', 'optionalDependencies'] as const) {
        for (const [dep, range] of Object.entries<string>(pkg[kind] ?? {})) {
          expect(`${dep}@${range}`, where).not.toMatch(/@(link|file):/);
        }
      }
    }
    expect(readFileSync(path.join(root, 'LICENSE'), 'utf8')).toMatch(/Apache License\s+Version 2\.0, January 2004/);
  });

  it('a minor release of @registry-core/api, in range of the plugins\' peer, bumps no plugin major', async () => {
    const { packages, config } = await workspace();
    const api = packages.packages.find((p) => p.packageJson.name === '@registry-core/api')!;
    const changeset = { id: 'api-minor', summary: 'a new optional hook', releases: [{ name: '@registry-core/api', type: 'minor' }] };
    const plan = assembleReleasePlan([changeset], packages, config, undefined);
    const byName = new Map<string, { type: string; newVersion: string }>(plan.releases.map((r: any) => [r.name, r]));
    const [major] = (api.packageJson.version as string).split('.');
    expect(byName.get('@registry-core/api')?.newVersion).toMatch(new RegExp(`^${major}\\.`));
    expect(plan.releases.filter((r: any) => r.type === 'major').map((r: any) => r.name)).toEqual([]);
    // the plugins peer the api (in range: nothing to release); the kernel and testing depend on
    // it and the CLI on the kernel: patch releases at most
    expect(byName.get('@registry-core/plugin-npm')).toBeUndefined();
    expect(byName.get('@registry-core/storage-fs')).toBeUndefined();
  });
});
