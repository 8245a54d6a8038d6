import { describe, expect, it } from 'vitest';
import { parseManifest } from './manifest.js';

const good = { registryCore: { apiVersion: '^1.0.0', contributes: { formats: [{ id: 'npm', repositoryTypes: ['hosted', 'proxy', 'group'] }] } } };

describe('parseManifest', () => {
  it('accepts a valid manifest', () => {
    expect(parseManifest(good)).toEqual({ ok: true, manifest: good.registryCore });
  });

  it('accepts a web app, and refuses one without a valid id', () => {
    expect(parseManifest({ registryCore: { apiVersion: '^1.0.0', contributes: { webApps: [{ id: 'web' }] } } }).ok).toBe(true);
    const bad = parseManifest({ registryCore: { apiVersion: '^1.0.0', contributes: { webApps: [{ id: 'Web UI' }] } } });
    expect(!bad.ok && bad.errors).toEqual(['registryCore.contributes.webApps[0].id: must match /^[a-z][a-z0-9-]{0,63}$/']);
  });

  it('says when the block is missing', () => {
    expect(parseManifest({ name: 'x' })).toEqual({ ok: false, errors: ['registryCore: missing (not a registry-core plugin)'] });
  });

  it.each([['*'], ['>=1'], ['x'], ['1 || *'], ['']])('refuses apiVersion %j that does not pin a major', (range) => {
    const result = parseManifest({ registryCore: { apiVersion: range, contributes: {} } });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors[0]).toMatch(/registryCore\.apiVersion/);
  });

  it.each([['^1.0.0'], ['~1.2.0'], ['1.x'], ['>=1.2.0 <2.0.0'], ['^1.0.0 || ^2.0.0']])('accepts apiVersion %j', (range) => {
    expect(parseManifest({ registryCore: { apiVersion: range, contributes: {} } }).ok).toBe(true);
  });

  it('names every bad key', () => {
    const result = parseManifest({
      registryCore: { apiVersion: '^1.0.0', contributes: { formats: [{ id: 'Has Space', repositoryTypes: ['mirror'] }], widgets: [], storageDrivers: 'fs' } },
    });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.errors).toEqual(
        expect.arrayContaining([
          'registryCore.contributes.widgets: unknown contribution point',
          'registryCore.contributes.storageDrivers: must be an array',
          expect.stringMatching(/^registryCore\.contributes\.formats\[0\]\.id: /),
          'registryCore.contributes.formats[0].repositoryTypes: must be a non-empty array of hosted, proxy, group',
        ]),
      );
    }
  });
});

describe('parseManifest: capabilities', () => {
  it('accepts the known opt-in capabilities of a format and names an unknown one', () => {
    const withCapabilities = (capabilities: unknown) => ({ registryCore: { apiVersion: '^1.0.0', contributes: { formats: [{ id: 'oci', repositoryTypes: ['hosted'], capabilities }] } } });
    expect(parseManifest(withCapabilities(['uploads', 'hostRoot', 'accessTokens', 'login', 'tasks'])).ok).toBe(true);
    expect(parseManifest(withCapabilities(['uploads', 'telepathy']))).toEqual({ ok: false, errors: ['registryCore.contributes.formats[0].capabilities: must be an array of uploads, hostRoot, accessTokens, login, tasks'] });
  });
});

describe('parseManifest: configSchema', () => {
  const withSchema = (point: string, entry: Record<string, unknown>) => parseManifest({ registryCore: { apiVersion: '^1.0.0', contributes: { [point]: [entry] } } });

  it('accepts an object schema of the plugin\'s own keys', () => {
    const format = { id: 'maven', repositoryTypes: ['hosted'], configSchema: { type: 'object', additionalProperties: false, properties: { versionPolicy: { enum: ['release', 'snapshot', 'mixed'] } } } };
    expect(withSchema('formats', format)).toEqual({ ok: true, manifest: { apiVersion: '^1.0.0', contributes: { formats: [format] } } });
    expect(withSchema('storageDrivers', { id: 'fs', configSchema: { type: 'object', required: ['path'], properties: { path: { type: 'string' } } } }).ok).toBe(true);
  });

  it('names every bad configSchema key, and refuses the kernel\'s keys', () => {
    const result = withSchema('formats', { id: 'x', repositoryTypes: ['hosted'], configSchema: { type: 'string', $ref: '#/x', properties: { upstream: {}, cache: {}, mine: {} }, required: 'mine' } });
    expect(!result.ok && result.errors).toEqual([
      'registryCore.contributes.formats[0].configSchema.type: must be "object" (the schema describes the keys of a block)',
      'registryCore.contributes.formats[0].configSchema.$ref: not supported (the schema must stand alone)',
      'registryCore.contributes.formats[0].configSchema.properties.upstream: the kernel owns this key',
      'registryCore.contributes.formats[0].configSchema.properties.cache: the kernel owns this key',
      'registryCore.contributes.formats[0].configSchema.required: must be an array of key names',
    ]);
    const driver = withSchema('storageDrivers', { id: 'd', configSchema: { properties: { redirect: {} } } });
    expect(!driver.ok && driver.errors).toEqual(['registryCore.contributes.storageDrivers[0].configSchema.properties.redirect: the kernel owns this key']);
    const provider = withSchema('authProviders', { id: 'p', configSchema: [] });
    expect(!provider.ok && provider.errors).toEqual(['registryCore.contributes.authProviders[0].configSchema: must be a JSON schema object']);
  });
});
