import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { container } from 'tsyringe';
import { describe, expect, it } from 'vitest';
import { Tokens, type Logger, type PluginContext } from '@registry-core/api';
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
});
