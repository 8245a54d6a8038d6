import { describe, expect, it } from 'vitest';
import { mergeSettings as mergeIni } from './config-files.js';

describe('mergeIni', () => {
  it('replaces a key in place and appends new ones, keeping comments and other keys (.npmrc)', () => {
    const before = '# mine\nregistry=https://old.invalid/\nsave-exact=true\n';
    expect(mergeIni(before, [{ key: 'registry', value: 'http://r/npm/' }, { key: '//r/npm/:_authToken', value: 't' }])).toBe(
      '# mine\nregistry=http://r/npm/\nsave-exact=true\n//r/npm/:_authToken=t\n',
    );
  });

  it('writes into the right section, making it when missing (pip.conf, .pypirc)', () => {
    const before = '[global]\ntimeout = 60\n\n[install]\nuser = true\n';
    expect(mergeIni(before, [{ section: 'global', key: 'index-url', value: 'http://r/simple/' }])).toBe('[global]\ntimeout = 60\nindex-url = http://r/simple/\n\n[install]\nuser = true\n');
    expect(mergeIni('', [{ section: 'global', key: 'index-url', value: 'x' }])).toBe('[global]\nindex-url = x\n');
  });

  it('adds a list item once, keeping the others', () => {
    const before = '[distutils]\nindex-servers = pypi\n';
    const once = mergeIni(before, [{ section: 'distutils', key: 'index-servers', value: 'rc', listItem: true }]);
    expect(once).toBe('[distutils]\nindex-servers = pypi rc\n');
    expect(mergeIni(once, [{ section: 'distutils', key: 'index-servers', value: 'rc', listItem: true }])).toBe(once);
  });

  it('writes TOML strings and arrays, adding to an array once (.cargo/config.toml)', () => {
    const before = '[registry]\nglobal-credential-providers = ["cargo:libsecret"]\n';
    const settings = [
      { section: 'registry', key: 'global-credential-providers', value: 'cargo:token', listItem: true },
      { section: 'registries.rc', key: 'index', value: 'sparse+http://r/cargo/' },
    ];
    const once = mergeIni(before, settings, 'toml');
    expect(once).toBe('[registry]\nglobal-credential-providers = ["cargo:libsecret", "cargo:token"]\n\n[registries.rc]\nindex = "sparse+http://r/cargo/"\n');
    expect(mergeIni(once, settings, 'toml')).toBe(once);
  });
});
