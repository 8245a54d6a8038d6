import { describe, expect, it } from 'vitest';
import { MergeRefused, mergeSettings as mergeIni } from './config-files.js';

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

describe('mergeSettings for arrays of tables, JSON, YAML and XML', () => {
  it("adds a TOML [[table]] keyed by a value once, and edits that one only (uv's [[index]])", () => {
    const before = '[[index]]\nname = "other"\nurl = "https://o/simple/"\n';
    const settings = [{ section: 'index[name=rc]', key: 'url', value: 'http://r/simple/' }];
    const once = mergeIni(before, settings, 'toml');
    expect(once).toBe('[[index]]\nname = "other"\nurl = "https://o/simple/"\n\n[[index]]\nname = "rc"\nurl = "http://r/simple/"\n');
    expect(mergeIni(once, settings, 'toml')).toBe(once);
  });

  it("merges JSON objects keeping the rest and the file's indentation (Docker's config.json)", () => {
    const before = '{\n    "auths": {\n        "other:5000": {\n            "auth": "eA=="\n        }\n    },\n    "credsStore": "pass"\n}\n';
    const merged = mergeIni(before, [{ section: 'auths/r:8080', key: 'auth', value: 'dTp0' }], 'json');
    expect(JSON.parse(merged)).toEqual({ auths: { 'other:5000': { auth: 'eA==' }, 'r:8080': { auth: 'dTp0' } }, credsStore: 'pass' });
    expect(merged).toContain('\n    "auths": {\n        "other:5000"');
    expect(() => mergeIni('[1]', [{ section: 'auths/r', key: 'auth', value: 'x' }], 'json')).toThrow(MergeRefused);
    expect(() => mergeIni('{"auths": "x"}', [{ section: 'auths/r', key: 'auth', value: 'x' }], 'json')).toThrow(MergeRefused);
  });

  it('merges YAML keeping comments, adding a list item once (.condarc)', () => {
    const before = '# mine\nchannels:\n  - conda-forge # first\nssl_verify: true\n';
    const settings = [{ key: 'channels', value: 'http://r/conda', listItem: true }];
    const once = mergeIni(before, settings, 'yaml');
    expect(once).toBe('# mine\nchannels:\n  - conda-forge # first\n  - http://r/conda\nssl_verify: true\n');
    expect(mergeIni(once, settings, 'yaml')).toBe(once);
    expect(mergeIni('', settings, 'yaml')).toBe('channels:\n  - http://r/conda\n');
    expect(() => mergeIni('- a\n', settings, 'yaml')).toThrow(MergeRefused);
    expect(() => mergeIni('channels: defaults\n', settings, 'yaml')).toThrow(MergeRefused);
  });

  const maven = [
    { section: 'settings/servers/server[id=rc]', key: 'username', value: 'u' },
    { section: 'settings/servers/server[id=rc]', key: 'password', value: 't<&>' },
    { section: 'settings/activeProfiles', key: 'activeProfile', value: 'rc', listItem: true },
  ];

  it("edits only its own XML elements, keyed by a child or an attribute (Maven's settings.xml, NuGet.Config)", () => {
    const before = [
      '<?xml version="1.0"?>',
      '<!-- my settings -->',
      '<settings xmlns="http://maven.apache.org/SETTINGS/1.0.0">',
      '    <servers>',
      '        <server><id>other</id><password>keep</password></server>',
      '        <server>',
      '            <id>rc</id>',
      '            <password>old</password>',
      '        </server>',
      '    </servers>',
      '    <offline>false</offline>',
      '</settings>',
      '',
    ].join('\n');
    const once = mergeIni(before, maven, 'xml');
    // The password replaced in place, the username and activeProfiles added; nothing else changed.
    expect(once).toBe(
      before
        .replace('<password>old</password>', '<password>t&lt;&amp;&gt;</password>\n            <username>u</username>')
        .replace('</settings>', '    <activeProfiles>\n        <activeProfile>rc</activeProfile>\n    </activeProfiles>\n</settings>'),
    );
    expect(mergeIni(once, maven, 'xml')).toBe(once);
    const nuget = [
      { section: 'configuration/packageSources/add[@key=rc]', key: '@value', value: 'http://r/v3/index.json' },
      { section: 'configuration/packageSourceCredentials/rc/add[@key=ClearTextPassword]', key: '@value', value: 't' },
    ];
    expect(mergeIni('<configuration>\n  <packageSources />\n</configuration>\n', nuget, 'xml')).toBe(
      [
        '<configuration>',
        '  <packageSources>',
        '    <add key="rc" value="http://r/v3/index.json" />',
        '  </packageSources>',
        '  <packageSourceCredentials>',
        '    <rc>',
        '      <add key="ClearTextPassword" value="t" />',
        '    </rc>',
        '  </packageSourceCredentials>',
        '</configuration>',
        '',
      ].join('\n'),
    );
  });

  it('finds its element by a key written in CDATA or beside a comment', () => {
    const before = '<settings>\n  <servers>\n    <server>\n      <id><![CDATA[rc]]><!-- mine --></id>\n    </server>\n  </servers>\n</settings>\n';
    expect(mergeIni(before, maven.slice(0, 1), 'xml')).toBe(before.replace('<!-- mine --></id>', '<!-- mine --></id>\n      <username>u</username>'));
  });

  it('keeps an XML file\'s Windows line ends', () => {
    const merged = mergeIni('<settings>\r\n  <offline>true</offline>\r\n</settings>\r\n', maven.slice(2), 'xml');
    expect(merged).toBe('<settings>\r\n  <offline>true</offline>\r\n  <activeProfiles>\r\n    <activeProfile>rc</activeProfile>\r\n  </activeProfiles>\r\n</settings>\r\n');
  });

  it('refuses an XML document it cannot edit safely', () => {
    expect(() => mergeIni('<project></project>\n', maven, 'xml')).toThrow(/root element is <project>/);
    expect(() => mergeIni('<settings><servers></settings>\n', maven, 'xml')).toThrow(MergeRefused);
    expect(() => mergeIni('<!DOCTYPE settings [<!ENTITY x "y">]>\n<settings/>\n', maven, 'xml')).toThrow(MergeRefused);
  });
});
