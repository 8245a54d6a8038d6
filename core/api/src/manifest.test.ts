import { describe, expect, it } from 'vitest';
import { parseManifest } from './manifest.js';

const good = { registryCore: { apiVersion: '^1.0.0', contributes: { formats: [{ id: 'npm', repositoryTypes: ['hosted', 'proxy', 'group'] }] } } };

describe('parseManifest', () => {
  it('accepts a valid manifest', () => {
    expect(parseManifest(good)).toEqual({ ok: true, manifest: good.registryCore });
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
