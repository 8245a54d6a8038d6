import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { container } from 'tsyringe';
import { describe, expect, it } from 'vitest';
import { Tokens, type Logger, type PluginContext } from '@registry-core/api';
import { ConfigError, normalizeConfig } from '../config/load-config.js';
import { PluginHost } from './plugin-host.js';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

/** A plugin that keeps its context on globalThis so the test can look at its container. */
function fixturePlugin(root: string, name: string, format: string): string {
  const dir = path.join(root, name);
  mkdirSync(dir);
  writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name, version: '1.2.3', type: 'module', main: 'index.js', registryCore: { apiVersion: '^1.0.0', contributes: { formats: [{ id: format, repositoryTypes: ['hosted'] }] } } }),
  );
  writeFileSync(
    path.join(dir, 'index.js'),
    `export function activate(ctx) {
       ctx.container.register('private-service', { useValue: '${name}-service' });
       globalThis.__contexts = { ...(globalThis.__contexts ?? {}), ['${name}']: ctx };
       ctx.registerFormat({ id: '${format}', routes: [] });
     }`,
  );
  return dir;
}

describe('PluginHost', () => {
  it('gives each plugin its own child container resolving its own context', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'rc-host-'));
    const a = fixturePlugin(root, 'plugin-a', 'fmt-a');
    const b = fixturePlugin(root, 'plugin-b', 'fmt-b');
    const host = new PluginHost(silent, root, []);
    host.inspect([{ name: a, options: { answer: 42 } }, { name: b, options: {} }]);
    await host.activate({ formats: new Set(['fmt-a', 'fmt-b']), storageDrivers: new Set(), authProviders: new Set() });
    expect(host.records.map((r) => r.status)).toEqual(['active', 'active']);
    const contexts = (globalThis as unknown as { __contexts: Record<string, PluginContext> }).__contexts;
    const ctxA = contexts['plugin-a']!;
    const ctxB = contexts['plugin-b']!;
    expect(ctxA.container).not.toBe(ctxB.container);
    expect(ctxA.container.resolve(Tokens.PluginContext)).toBe(ctxA);
    expect(ctxB.container.resolve(Tokens.PluginContext)).toBe(ctxB);
    expect(ctxA.container.resolve('private-service')).toBe('plugin-a-service');
    expect(ctxB.container.resolve('private-service')).toBe('plugin-b-service');
    expect(container.isRegistered('private-service', true)).toBe(false);
    expect(ctxA.options).toEqual({ answer: 42 });
    expect(ctxA.plugin).toMatchObject({ name: 'plugin-a', version: '1.2.3' });
    expect([...host.formats.keys()].sort()).toEqual(['fmt-a', 'fmt-b']);
    await host.deactivateAll();
    expect(host.formats.size).toBe(0);
  });

  it('refuses a registration the manifest does not declare', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'rc-host-'));
    const dir = fixturePlugin(root, 'plugin-c', 'fmt-c');
    writeFileSync(path.join(dir, 'index.js'), `export function activate(ctx) { ctx.registerFormat({ id: 'undeclared', routes: [] }); }`);
    const host = new PluginHost(silent, root, []);
    host.inspect([{ name: dir, options: {} }]);
    await host.activate({ formats: new Set(['fmt-c']), storageDrivers: new Set(), authProviders: new Set() });
    expect(host.records[0]).toMatchObject({ status: 'failed', reason: expect.stringContaining('does not declare') });
    expect(host.formats.size).toBe(0);
  });

  it('refuses a format that uses an opt-in capability its manifest does not declare', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'rc-host-'));
    const dir = fixturePlugin(root, 'plugin-d', 'fmt-d');
    writeFileSync(path.join(dir, 'index.js'), `export function activate(ctx) { ctx.registerFormat({ id: 'fmt-d', routes: [], hostRoot: { prefix: '/v2' } }); }`);
    const host = new PluginHost(silent, root, []);
    host.inspect([{ name: dir, options: {} }]);
    await host.activate({ formats: new Set(['fmt-d']), storageDrivers: new Set(), authProviders: new Set() });
    expect(host.records[0]).toMatchObject({ status: 'failed', reason: expect.stringContaining('"hostRoot" capability') });
    expect(host.formats.size).toBe(0);
  });
});

describe('PluginHost: config schemas of contributions', () => {
  const formatSchema = { type: 'object', additionalProperties: false, properties: { versionPolicy: { enum: ['release', 'snapshot', 'mixed'] }, keep: { type: 'integer', minimum: 0 } } };
  function schemaPlugin(root: string, contributes: Record<string, unknown>): string {
    const dir = path.join(root, 'schema-plugin');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'schema-plugin', version: '1.0.0', type: 'module', main: 'index.js', registryCore: { apiVersion: '^1.0.0', contributes } }));
    writeFileSync(path.join(dir, 'index.js'), `export function activate(ctx) { globalThis.__schemaPluginActivated = true; ctx.registerFormat({ id: 'fmt', routes: [] }); }`);
    return dir;
  }
  const used = { formats: new Set(['fmt']), storageDrivers: new Set<string>(), authProviders: new Set<string>() };
  const ctx = { configDir: '/etc/registry', env: {} };

  it('refuses a plugin key with a bad value, with its path, before activating anything', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'rc-host-'));
    const dir = schemaPlugin(root, { formats: [{ id: 'fmt', repositoryTypes: ['hosted'], configSchema: formatSchema }] });
    const host = new PluginHost(silent, root, []);
    host.inspect([{ name: dir, options: {} }]);
    const config = normalizeConfig({ repositories: { 'maven-local': { format: 'fmt', type: 'hosted', versionPolicy: 'releases', keep: -1, typo: true, cache: { metadataTtl: 5 } } } }, ctx);
    const failure = await host.activate(used, config).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ConfigError);
    expect((failure as ConfigError).errors).toEqual([
      'repositories.maven-local.typo: unknown key',
      'repositories.maven-local.versionPolicy: must be one of release, snapshot, mixed',
      'repositories.maven-local.keep: must be >= 0',
    ]);
    expect((globalThis as { __schemaPluginActivated?: boolean }).__schemaPluginActivated).toBeUndefined();
    expect(host.records[0]?.status).toBe('inactive');
    const good = normalizeConfig({ repositories: { r: { format: 'fmt', type: 'hosted', versionPolicy: 'release', upstreamAuth: undefined, anonymousRead: true, maxUploadSize: '1mb' } } }, ctx);
    expect(host.checkConfig(good)).toEqual([]);
    await host.activate(used, good);
    expect(host.records[0]?.status).toBe('active');
    await host.deactivateAll();
  });

  it('checks storage options and auth provider options against their schemas, less the kernel\'s keys', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'rc-host-'));
    const dir = schemaPlugin(root, {
      storageDrivers: [{ id: 'blobs', configSchema: { type: 'object', additionalProperties: false, required: ['bucket'], properties: { bucket: { type: 'string' } } } }],
      authProviders: [{ id: 'ldap', configSchema: { type: 'object', additionalProperties: false, properties: { url: { type: 'string' } } } }],
    });
    const host = new PluginHost(silent, root, []);
    host.inspect([{ name: dir, options: {} }]);
    const config = normalizeConfig({ storage: { cloud: { driver: 'blobs', redirect: true, region: 'x' }, ok: { driver: 'blobs', bucket: 'b', redirect: { expires: 60 } } }, auth: { providers: [{ id: 'builtin' }, { id: 'ldap', url: 7 }] } }, ctx);
    expect(host.checkConfig(config)).toEqual(['storage.cloud.bucket: required', 'storage.cloud.region: unknown key', 'auth.providers[1].url: must be string']);
  });

  it('refuses a plugin whose configSchema does not compile, naming the manifest key', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'rc-host-'));
    const dir = schemaPlugin(root, { formats: [{ id: 'fmt', repositoryTypes: ['hosted'], configSchema: { type: 'object', properties: { n: { type: 'integer', minimum: 'zero' } } } }] });
    const host = new PluginHost(silent, root, []);
    host.inspect([{ name: dir, options: {} }]);
    expect(host.records[0]).toMatchObject({ status: 'refused', reason: expect.stringMatching(/^invalid manifest: registryCore\.contributes\.formats\[0\]\.configSchema: /) });
  });

  it('the shipped plugins\' schemas refuse bad values of their keys with the key\'s path', () => {
    const repoRoot = path.resolve(import.meta.dirname, '../../../..');
    const host = new PluginHost(silent, repoRoot, []);
    host.inspect(['plugins/maven', 'plugins/oci', 'plugins/pypi', 'plugins/npm', 'plugins/auth-htpasswd', 'storage-drivers/fs', 'storage-drivers/s3', 'storage-drivers/azure'].map((p) => ({ name: `./${p}`, options: {} })));
    expect(host.records.map((r) => r.status)).toEqual(Array(8).fill('inactive'));
    const config = normalizeConfig(
      {
        storage: { s3: { driver: 's3', bucket: 'a/b', partSize: 10 }, az: { driver: 'azure', container: 'ok-name', concurrency: 99 } },
        auth: { providers: [{ id: 'htpasswd', bcryptRounds: 40 }] },
        repositories: {
          'maven-local': { format: 'maven', type: 'hosted', versionPolicy: 'releases', allowRedeploy: 'yes' },
          images: { format: 'oci', type: 'hosted', allowDelete: 'no', gcGraceSeconds: 1.5 },
          py: { format: 'pypi', type: 'hosted', allowDelete: 1 },
          js: { format: 'npm', type: 'hosted', allowUnpublish: 'false', allowUnpublsh: false },
        },
      },
      ctx,
    );
    expect(host.checkConfig(config)).toEqual([
      'repositories.maven-local.versionPolicy: must be one of release, snapshot, mixed',
      'repositories.maven-local.allowRedeploy: must be boolean',
      'repositories.images.allowDelete: must be boolean',
      'repositories.images.gcGraceSeconds: must be integer',
      'repositories.py.allowDelete: must be boolean',
      'repositories.js.allowUnpublsh: unknown key',
      'repositories.js.allowUnpublish: must be boolean',
      expect.stringMatching(/^storage\.s3\.bucket: must match pattern/),
      'storage.s3.partSize: must be >= 5242880',
      'storage.az.concurrency: must be <= 16',
      'auth.providers[0].file: required',
      'auth.providers[0].bcryptRounds: must be <= 16',
    ]);
  });

  it('refuses a format key on a kind of repository its schema does not give it to (repositoryTypes)', () => {
    const repoRoot = path.resolve(import.meta.dirname, '../../../..');
    const host = new PluginHost(silent, repoRoot, []);
    host.inspect(['plugins/maven', 'plugins/go', 'plugins/zig'].map((p) => ({ name: `./${p}`, options: {} })));
    const config = normalizeConfig(
      {
        repositories: {
          'maven-proxy': { format: 'maven', type: 'proxy', upstream: 'http://127.0.0.1:1/', allowRedeploy: true },
          'maven-local': { format: 'maven', type: 'hosted', allowRedeploy: true },
          'go-local': { format: 'go', type: 'hosted', sumdb: false, noSumCheck: ['example.com'] },
          'go-proxy': { format: 'go', type: 'proxy', upstream: 'http://127.0.0.1:1/', sumdb: false, sumdbUnreachable: 'refuse' },
          'zig-group': { format: 'zig', type: 'group', members: ['zig-local'], packages: true },
          'zig-local': { format: 'zig', type: 'hosted' },
        },
      },
      ctx,
    );
    expect(host.checkConfig(config)).toEqual([
      'repositories.maven-proxy.allowRedeploy: only hosted repositories take this key, not a proxy one',
      'repositories.go-local.sumdb: only proxy repositories take this key, not a hosted one',
      'repositories.go-local.noSumCheck: only proxy repositories take this key, not a hosted one',
      'repositories.zig-group.packages: only proxy repositories take this key, not a group one',
    ]);
  });

  it('refuses a manifest whose repositoryTypes is not a list of kinds', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'rc-host-'));
    const dir = schemaPlugin(root, { formats: [{ id: 'fmt', repositoryTypes: ['hosted'], configSchema: { type: 'object', properties: { n: { type: 'integer', repositoryTypes: ['mirror'] } } } }] });
    const host = new PluginHost(silent, root, []);
    host.inspect([{ name: dir, options: {} }]);
    expect(host.records[0]).toMatchObject({ status: 'refused', reason: expect.stringContaining('configSchema.properties.n.repositoryTypes: must list some of hosted, proxy, group') });
  });
});
