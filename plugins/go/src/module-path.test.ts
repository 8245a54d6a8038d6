import { describe, expect, it } from 'vitest';
import { escapeCase, modulePathProblem, parseModuleRequest, unescapeCase, versionProblem } from './module-path.js';

describe('module paths', () => {
  it('case-encodes with ! as the go command does, and refuses raw upper case or stray escapes', () => {
    expect(escapeCase('github.com/Azure/azure-sdk')).toBe('github.com/!azure/azure-sdk');
    expect(escapeCase('v1.0.0-RC1')).toBe('v1.0.0-!r!c1');
    expect(unescapeCase('github.com/!azure/azure-sdk')).toBe('github.com/Azure/azure-sdk');
    expect(unescapeCase('github.com/Azure/x')).toBeUndefined();
    expect(unescapeCase('github.com/!/x')).toBeUndefined();
    expect(unescapeCase('github.com/x!')).toBeUndefined();
  });

  it('checks paths as module.CheckPath does', () => {
    for (const ok of ['example.com/m', 'github.com/Azure/azure-sdk-for-go', 'example.com/m/v2', 'gopkg.in/yaml.v3', 'golang.org/x/mod']) expect(modulePathProblem(ok), ok).toBeUndefined();
    for (const bad of ['', 'example/m', '/example.com/m', 'example.com/m/', 'example.com//m', 'Example.com/m', 'example.com/../m', 'example.com/.m', 'example.com/m$', 'example.com/m/v1', 'example.com/m/v02', 'gopkg.in/yaml', '-x.com/m'])
      expect(modulePathProblem(bad), bad).toBeDefined();
  });

  it('checks versions against the major version a path demands', () => {
    expect(versionProblem('example.com/m', 'v1.2.3')).toBeUndefined();
    expect(versionProblem('example.com/m', 'v0.0.0-20240101120000-abcdef123456')).toBeUndefined();
    expect(versionProblem('example.com/m', 'v2.0.0+incompatible')).toBeUndefined();
    expect(versionProblem('example.com/m/v2', 'v2.1.0')).toBeUndefined();
    expect(versionProblem('gopkg.in/yaml.v3', 'v3.0.1')).toBeUndefined();
    for (const [path, version] of [
      ['example.com/m', 'v2.0.0'],
      ['example.com/m', 'v1.0.0+incompatible'],
      ['example.com/m/v2', 'v3.0.0'],
      ['example.com/m/v2', 'v2.0.0+incompatible'],
      ['example.com/m', '1.0.0'],
      ['example.com/m', 'v1.0'],
      ['example.com/m', 'v1.0.0+build'],
      ['example.com/m', 'v01.0.0'],
      ['example.com/m', 'v1.0.0-01'],
      ['gopkg.in/yaml.v3', 'v2.0.0'],
    ])
      expect(versionProblem(path!, version!), `${path}@${version}`).toBeDefined();
  });

  it('parses GOPROXY request paths: 400 for malformed ones, 404 for what only a VCS could resolve', () => {
    expect(parseModuleRequest('/github.com/!azure/x/@v/list')).toEqual({ module: 'github.com/Azure/x', kind: 'list' });
    // The go command percent-encodes the escape character.
    expect(parseModuleRequest('/github.com/%21azure/x/@v/v1.0.0-%21r%21c1.info')).toEqual({ module: 'github.com/Azure/x', kind: 'info', version: 'v1.0.0-RC1' });
    expect(parseModuleRequest('/example.com/m/@latest')).toEqual({ module: 'example.com/m', kind: 'latest' });
    expect(parseModuleRequest('/example.com/m/@v/v1.0.0-!r!c1.zip')).toEqual({ module: 'example.com/m', kind: 'zip', version: 'v1.0.0-RC1' });
    expect(parseModuleRequest('/example.com/m/@v/v2.0.0+incompatible.mod')).toEqual({ module: 'example.com/m', kind: 'mod', version: 'v2.0.0+incompatible' });
    const status = (path: string) => {
      try {
        parseModuleRequest(path);
        return 200;
      } catch (error) {
        return (error as { status: number }).status;
      }
    };
    expect(parseModuleRequest('/example.com/m/@v/master.info')).toEqual({ module: 'example.com/m', kind: 'query', query: 'master' });
    expect(parseModuleRequest('/example.com/m/@v/!release-1.info')).toEqual({ module: 'example.com/m', kind: 'query', query: 'Release-1' });
    expect(status('/example.com/m/@v/master.zip')).toBe(404);
    // A publish of what is not a version the path takes: a 400 saying why.
    expect(() => parseModuleRequest('/example.com/m/@v/1.0.0.zip', { write: true })).toThrow(/not a canonical Go semantic version/);
    expect(() => parseModuleRequest('/example.com/m/@v/v2.0.0.zip', { write: true })).toThrow(/\/v2 path suffix/);
    expect(status('/example.com/m/@v/...info')).toBe(404);
    expect(status('/example.com/m/@v/v1.0.0.txt')).toBe(404);
    expect(status('/example.com/m/')).toBe(404);
    expect(status('/example.com/M/@v/list')).toBe(400);
    expect(status('/example.com/m/@v/v1.0.0-RC1.info')).toBe(400);
    expect(status('/example.com/m%2f..%2fx/@v/list')).toBe(400);
    expect(status('/example.com/../m/@v/list')).toBe(400);
    expect(status('/example.com/m%5cx/@v/list')).toBe(400);
    expect(status('/example.com/m%00/@v/list')).toBe(400);
    expect(status('/example.com/m%zz/@v/list')).toBe(400);
  });
});
