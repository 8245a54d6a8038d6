// Plugin refusal at start: bad manifests and API mismatches are refused with a clear
// message naming the plugin, the range it wants and the version provided, without
// importing their code, and the rest of the registry still starts and serves.
import path from 'node:path';
import { startPostgres } from '@registry-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, runCli, startRegistry, tempDir, type RunningRegistry } from '../helpers/registry-process.js';
import { readFileSync, writeFileSync } from 'node:fs';

const fixtures = path.join(repoRoot, 'test', 'kernel', 'fixtures');
const rawPlugin = path.join(repoRoot, 'examples', 'raw-format-plugin');
const apiVersion = (JSON.parse(readFileSync(path.join(repoRoot, 'core', 'api', 'package.json'), 'utf8')) as { version: string }).version;

const config = `
plugins:
  - "${rawPlugin}"
  - "${fixtures}/no-manifest"
  - "${fixtures}/wants-api-2"
  - "${fixtures}/bad-manifest"
  - "${fixtures}/throws-on-activate"
  - "@registry-core/not-installed"
repositories:
  files: { format: raw, type: hosted }
  future: { format: future, type: hosted }
  broken: { format: broken, type: hosted }
`;

describe('plugin host', () => {
  let registry: RunningRegistry;
  beforeAll(async () => {
    registry = await startRegistry(config);
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('refuses bad plugins with clear messages and still serves the good ones', async () => {
    const out = registry.output();
    expect(out).toContain(`plugin fixture-wants-api-2 wants @registry-core/api ^2.0.0, but this host provides ${apiVersion}`);
    expect(out).toMatch(/fixture-no-manifest.*registryCore: missing/);
    expect(out).toMatch(/registryCore\.apiVersion: ">=1" must pin a major version/);
    expect(out).toMatch(/registryCore\.contributes\.themes: unknown contribution point/);
    expect(out).toMatch(/registryCore\.contributes\.formats\[0\]\.id/);
    expect(out).toMatch(/fixture-throws-on-activate.*activate\(\) threw: boom/);
    expect(out).toMatch(/@registry-core\/not-installed.*not installed/);
    expect(out).not.toContain('must never be imported');
    expect(out).toMatch(/unavailable: future: no active plugin provides format "future"/);
    const health = (await (await fetch(`${registry.url}/-/health`)).json()) as { status: string; plugins: { name: string; status: string }[] };
    expect(health.status).toBe('ok');
    expect(health.plugins.find((p) => p.name === 'registry-core-example-raw-format')?.status).toBe('active');
    expect(health.plugins.find((p) => p.name === 'fixture-wants-api-2')?.status).toBe('refused');
    expect((await fetch(`${registry.url}/files/nothing-here`)).status).toBe(404);
  });

  it('lists plugins with their status and reasons', async () => {
    const listed = await runCli(['plugins', 'list', '--json', '--config', registry.configFile]);
    expect(listed.code).toBe(0);
    const rows = JSON.parse(listed.stdout) as { name: string; status: string; reason?: string }[];
    const byName = Object.fromEntries(rows.map((r) => [r.name, r]));
    expect(byName['registry-core-example-raw-format']?.status).toBe('active');
    expect(byName['@registry-core/storage-fs']?.status).toBe('active');
    expect(byName['fixture-wants-api-2']).toMatchObject({ status: 'refused', reason: expect.stringContaining('^2.0.0') });
    expect(byName['fixture-throws-on-activate']?.status).toBe('failed');
  });

  it('does not activate a plugin whose contributions the config does not use', async () => {
    const dir = tempDir('inactive');
    const file = path.join(dir, 'registry-core.config.yaml');
    writeFileSync(file, `plugins: ["${rawPlugin}", "@registry-core/plugin-npm"]\nrepositories:\n  files: { format: raw, type: hosted }\n`);
    const listed = await runCli(['plugins', 'list', '--json', '--config', file]);
    const rows = JSON.parse(listed.stdout) as { name: string; status: string; reason?: string }[];
    expect(rows.find((r) => r.name === '@registry-core/plugin-npm')).toMatchObject({ status: 'inactive', reason: expect.stringContaining('is used by the config') });
  });
});

describe('config validation', () => {
  it('prints every error with its path and exits non-zero', async () => {
    const dir = tempDir('badconfig');
    const file = path.join(dir, 'registry-core.config.yaml');
    writeFileSync(
      file,
      `server: { port: "abc", colour: blue }
limits: { maxUploadSize: lots }
repositories:
  npmjs: { format: npm, type: proxy, upstream: "not a url" }
  grp: { format: npm, type: group, members: [npmjs, ghost] }
  Bad_Name: { format: npm, type: hosted }
  h: { format: npm, type: weird }
`,
    );
    const checked = await runCli(['config', 'check', '--config', file]);
    expect(checked.code).not.toBe(0);
    const text = checked.stderr;
    expect(text).toContain('server.colour: unknown key');
    expect(text).toContain('server.port');
    expect(text).toContain('limits.maxUploadSize: must be a size such as 100mb');
    expect(text).toContain('repositories.h.type: must be one of hosted, proxy, group');
    expect(text).toContain('Bad_Name');
  });

  it('reports semantic errors with paths', async () => {
    const dir = tempDir('badconfig2');
    const file = path.join(dir, 'registry-core.config.yaml');
    writeFileSync(
      file,
      `repositories:
  npmjs: { format: npm, type: proxy, upstream: "not a url" }
  grp: { format: npm, type: group, members: [npmjs, ghost] }
  h: { format: npm, type: hosted, storage: elsewhere }
`,
    );
    const checked = await runCli(['config', 'check', '--config', file]);
    expect(checked.code).not.toBe(0);
    expect(checked.stderr).toContain('repositories.npmjs.upstream: must be an http(s) URL');
    expect(checked.stderr).toContain('repositories.grp.members[1]: no repository named "ghost"');
    expect(checked.stderr).toContain('repositories.h.storage: no storage named "elsewhere"');
  });

  it('expands ${VAR} and ${VAR:-default}, and names a missing variable', async () => {
    const dir = tempDir('envconfig');
    const file = path.join(dir, 'registry-core.config.yaml');
    writeFileSync(file, `server: { port: "\${RC_TEST_PORT:-4999}" }\nrepositories:\n  up: { format: npm, type: proxy, upstream: "\${RC_TEST_UPSTREAM}" }\n`);
    const checked = await runCli(['config', 'check', '--config', file]);
    expect(checked.code).not.toBe(0);
    expect(checked.stderr).toContain('repositories.up.upstream: environment variable RC_TEST_UPSTREAM is not set');
  });
});

describe('shipped example configs', () => {
  it('multi-node config: db migrate on a real PostgreSQL, then config check passes', async () => {
    const postgres = await startPostgres();
    Object.assign(process.env, { DATABASE_URL: await postgres.createDatabase('example'), BLOB_DIR: tempDir('multi-node-blobs'), NPM_UPSTREAM: 'http://127.0.0.1:9/' });
    try {
      const config = path.join(repoRoot, 'examples/multi-node/registry-core.config.yaml');
      const before = await runCli(['config', 'check', '--config', config]);
      expect(before.code).not.toBe(0);
      expect(before.stderr).toMatch(/registry-core db migrate/);
      const migrated = await runCli(['db', 'migrate', '--config', config]);
      expect(migrated.stdout).toMatch(/^applied InitialSchema/);
      expect((await runCli(['db', 'migrate', '--config', config])).stdout).toContain('up to date');
      const checked = await runCli(['config', 'check', '--config', path.join(repoRoot, 'examples/multi-node/registry-core.config.yaml')]);
      expect(checked.stderr).toBe('');
      expect(checked.stdout).toContain('config OK');
    } finally {
      for (const name of ['DATABASE_URL', 'BLOB_DIR', 'NPM_UPSTREAM']) delete process.env[name];
      await postgres.stop();
    }
  }, 60_000);

  it('npm-team config passes config check', async () => {
    const checked = await runCli(['config', 'check', '--config', path.join(repoRoot, 'examples/npm-team/registry-core.config.yaml')]);
    expect(checked.stderr).toBe('');
    expect(checked.stdout).toContain('config OK');
    expect(checked.code).toBe(0);
  });
});
