import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_VIEW_LIMITS } from '@registry-core/api';
import { createTestHost, fetchPackageView, type TestHost } from '@registry-core/testing';
import { pomView } from './package-view.js';

const plugin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const project = (body: string, version = '1.0') => `<?xml version="1.0"?>\n<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion><groupId>com.example</groupId><artifactId>lib</artifactId><version>${version}</version>${body}</project>`;
const dependency = (a: string, scope?: string, extra = '') => `<dependency><groupId>org.x</groupId><artifactId>${a}</artifactId><version>[1.0,2.0)</version>${scope ? `<scope>${scope}</scope>` : ''}${extra}</dependency>`;

describe('maven POM view', () => {
  it('reads name, description, url, licenses, parent and dependencies with their scope', () => {
    const view = pomView(project(`<parent><groupId>com.example</groupId><artifactId>parent</artifactId><version>3</version></parent><name>Lib</name><description>A library.</description><url>https://example.com/lib</url><licenses><license><name>MIT</name></license><license><url>https://example.com/L</url></license></licenses><dependencies>${dependency('a')}${dependency('b', 'test')}${dependency('c', 'provided', '<optional>true</optional><classifier>jdk8</classifier>')}</dependencies>`));
    expect(view).toEqual({
      description: 'A library.',
      facts: { name: 'Lib', url: 'https://example.com/lib', licenses: 'MIT, https://example.com/L', parent: 'com.example:parent:3' },
      dependencies: [
        { name: 'org.x:a', range: '[1.0,2.0)', kind: 'compile' },
        { name: 'org.x:b', range: '[1.0,2.0)', kind: 'test' },
        { name: 'org.x:c:jdk8', range: '[1.0,2.0)', kind: 'provided, optional' },
      ],
    });
  });

  it('shows nothing of what is not a POM, and never expands entities', () => {
    expect(pomView('not xml <')).toEqual({});
    expect(pomView('<metadata/>')).toEqual({});
    expect(pomView('<!DOCTYPE p [<!ENTITY e SYSTEM "file:///etc/passwd">]><project><description>&e;</description></project>')).toEqual({});
  });
});

describe('maven package view through the browse API', () => {
  let host: TestHost;
  let auth: string;
  const put = async (file: string, body: string | Buffer) => {
    const response = await fetch(`${host.repositoryUrl('releases')}com/example/lib/${file}`, { method: 'PUT', headers: { authorization: auth }, body });
    await response.arrayBuffer();
    expect(response.status, file).toBe(201);
  };

  beforeAll(async () => {
    host = await createTestHost({ plugins: [plugin], repositories: { releases: { format: 'maven', type: 'hosted', versionPolicy: 'release' } } });
    auth = `Basic ${Buffer.from(`__token__:${await host.userToken('alice')}`).toString('base64')}`;
  });
  afterAll(async () => host?.stop());

  it('a deployed version: its POM, its files with sizes and digests, the dependency lines; a hostile POM bounded', async () => {
    const many = Array.from({ length: 1000 }, (_, i) => dependency(`dep${i}`, 'runtime')).join('');
    await put('1.0/lib-1.0.pom', project(`<description>${'x'.repeat(50_000)}</description><dependencies>${many}</dependencies>`));
    await put('1.0/lib-1.0.jar', Buffer.from('PK not really a jar'));
    await put('1.0/lib-1.0-sources.jar', Buffer.from('PK sources'));
    await put('1.1/lib-1.1.pom', project(`<name>Lib</name><licenses><license><name>Apache-2.0</name></license></licenses><dependencies>${dependency('a', 'test')}</dependencies>`, '1.1'));
    await put('1.1/lib-1.1.jar', Buffer.from('PK jar 1.1'));
    const latest = await fetchPackageView(host.url, 'releases', 'com.example:lib');
    expect(latest.version).toBe('1.1');
    expect(latest.facts).toMatchObject({ name: 'Lib', licenses: 'Apache-2.0' });
    expect(latest.dependencies).toEqual([{ name: 'org.x:a', range: '[1.0,2.0)', kind: 'test' }]);
    expect(latest.files.map((f) => [f.name, f.size])).toEqual([
      ['lib-1.1.jar', 10],
      ['lib-1.1.pom', expect.any(Number)],
    ]);
    expect(latest.files.every((f) => /^[0-9a-f]{40}$/.test(f.digests['sha1'] ?? ''))).toBe(true);
    // For the version the page shows.
    expect(latest.install).toContain('implementation("com.example:lib:1.1")');
    const old = await fetchPackageView(host.url, 'releases', 'com.example:lib', '1.0');
    expect(old.files.map((f) => f.name)).toEqual(['lib-1.0-sources.jar', 'lib-1.0.jar', 'lib-1.0.pom']);
    expect(old.dependencies).toHaveLength(PACKAGE_VIEW_LIMITS.entries);
    expect(old.description).toHaveLength(PACKAGE_VIEW_LIMITS.description);
  });
});
